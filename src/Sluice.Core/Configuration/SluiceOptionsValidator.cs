using Microsoft.Extensions.Options;

namespace Sluice.Configuration;

/// <summary>Checks <see cref="SluiceOptions"/> at start; each message names the key and the fix.</summary>
internal sealed class SluiceOptionsValidator : IValidateOptions<SluiceOptions>
{
    public ValidateOptionsResult Validate(string? name, SluiceOptions o)
    {
        var errors = new List<string>();

        if (o.Store.ToLowerInvariant() is not ("sqlite" or "memory" or "redis"))
        {
            errors.Add($"Sluice:Store must be one of sqlite, memory, redis (got '{o.Store}').");
        }

        if (o.Logging.Format.ToLowerInvariant() is not ("text" or "json"))
        {
            errors.Add($"Sluice:Logging:Format must be text or json (got '{o.Logging.Format}').");
        }

        if (o.StoreKind == StoreKind.Redis && string.IsNullOrWhiteSpace(o.Redis))
        {
            errors.Add("Sluice:Redis must be set to a Redis connection string when Sluice:Store is redis.");
        }

        if (o.RedisKeyPrefix.Length is 0 or > 64 || !o.RedisKeyPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            errors.Add($"Sluice:RedisKeyPrefix must be 1 to 64 of A-Z a-z 0-9 . _ - (got '{o.RedisKeyPrefix}').");
        }

        if (o.StoreKind == StoreKind.Sqlite && string.IsNullOrWhiteSpace(o.DataDir))
        {
            errors.Add("Sluice:DataDir must name a directory when Sluice:Store is sqlite.");
        }

        if (o.Sqlite.Synchronous.ToLowerInvariant() is not ("normal" or "full"))
        {
            errors.Add($"Sluice:Sqlite:Synchronous must be normal or full (got '{o.Sqlite.Synchronous}').");
        }

        if (o.AdminKey is { } key && key.Length < 16)
        {
            errors.Add("Sluice:AdminKey must be at least 16 characters long.");
        }

        if (o.TokenSigningKey is { } signing && !IsBase64Key(signing))
        {
            errors.Add("Sluice:TokenSigningKey must be base64 of at least 32 bytes.");
        }

        Positive(errors, "Sluice:Heartbeat", o.Heartbeat, TimeSpan.FromMilliseconds(100));
        if (o.NodeId is { } nodeId && (nodeId.Length is 0 or > 128 || !nodeId.All(static c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':')))
        {
            errors.Add($"Sluice:NodeId must be 1 to 128 letters, digits or '.-_:' (got '{nodeId}').");
        }

        if (o.Cluster.Address is { } address && (!Uri.TryCreate(address, UriKind.Absolute, out var advertised) || advertised.Scheme is not ("http" or "https")))
        {
            errors.Add($"Sluice:Cluster:Address must be an absolute http(s) URL (got '{address}').");
        }

        if (o.Cluster.LeaseTtl < TimeSpan.FromSeconds(1) || o.Cluster.LeaseTtl > TimeSpan.FromMinutes(10))
        {
            errors.Add($"Sluice:Cluster:LeaseTtl must be from 00:00:01 to 00:10:00 (got {o.Cluster.LeaseTtl}).");
        }
        Positive(errors, "Sluice:Retry", o.Retry, TimeSpan.Zero);
        Positive(errors, "Sluice:Limits:WriteTimeout", o.Limits.WriteTimeout, TimeSpan.FromMilliseconds(100));
        Positive(errors, "Sluice:Limits:ContractValidationTimeout", o.Limits.ContractValidationTimeout, TimeSpan.FromMilliseconds(1));
        Positive(errors, "Sluice:Retention:Age", o.Retention.Age, TimeSpan.FromSeconds(1));
        Positive(errors, "Sluice:Retention:TraceEvents", o.Retention.TraceEvents, TimeSpan.FromMinutes(1));
        Positive(errors, "Sluice:Retention:OpsMetrics", o.Retention.OpsMetrics, TimeSpan.FromHours(1));
        Positive(errors, "Sluice:Retention:Audit", o.Retention.Audit, TimeSpan.FromDays(1));
        Positive(errors, "Sluice:Retention:SweepInterval", o.Retention.SweepInterval, TimeSpan.FromMilliseconds(100));
        AtLeast(errors, "Sluice:Retention:MaxEventsPerStream", o.Retention.MaxEventsPerStream, 1);
        AtLeast(errors, "Sluice:Limits:MaxEventBytes", o.Limits.MaxEventBytes, 16);
        AtLeast(errors, "Sluice:Limits:MaxBodyBytes", o.Limits.MaxBodyBytes, 1024);
        AtLeast(errors, "Sluice:Limits:SubscriberBufferEvents", o.Limits.SubscriberBufferEvents, 8);
        foreach (var proxy in o.TrustedProxies)
        {
            if (!System.Net.IPNetwork.TryParse(proxy, out _) && !System.Net.IPAddress.TryParse(proxy, out _))
            {
                errors.Add($"Sluice:TrustedProxies: '{proxy}' is neither an IP address nor a CIDR network.");
            }
        }
        if (o.Limits.SubscriberBufferBytes < 65_536)
        {
            errors.Add("Sluice:Limits:SubscriberBufferBytes must be at least 65536.");
        }
        AtLeast(errors, "Sluice:Limits:MaxSseConnections", o.Limits.MaxSseConnections, 1);
        AtLeast(errors, "Sluice:Limits:MaxConcurrentGenerations", o.Limits.MaxConcurrentGenerations, 1);
        AtLeast(errors, "Sluice:Limits:RequestsPerMinute", o.Limits.RequestsPerMinute, 1);
        AtLeast(errors, "Sluice:Limits:RequestBurst", o.Limits.RequestBurst, 1);
        AtLeast(errors, "Sluice:Limits:MaxStreamsPerTenant", o.Limits.MaxStreamsPerTenant, 1);
        AtLeast(errors, "Sluice:Limits:MaxGenerationsPerTenant", o.Limits.MaxGenerationsPerTenant, 1);
        AtLeast(errors, "Sluice:Limits:MaxEventsPerBatch", o.Limits.MaxEventsPerBatch, 1);
        AtLeast(errors, "Sluice:Generations:QueueLength", o.Generations.QueueLength, 0);
        AtLeast(errors, "Sluice:Generations:MaxPromptChars", o.Generations.MaxPromptChars, 1);
        AtLeast(errors, "Sluice:Generations:MaxMessages", o.Generations.MaxMessages, 1);
        AtLeast(errors, "Sluice:Generations:MaxOutputTokens", o.Generations.MaxOutputTokens, 1);
        Positive(errors, "Sluice:Generations:IdempotencyWindow", o.Generations.IdempotencyWindow, TimeSpan.FromSeconds(1));
        Positive(errors, "Sluice:Generations:ShutdownGrace", o.Generations.ShutdownGrace, TimeSpan.Zero);
        Positive(errors, "Sluice:Generations:Retention", o.Generations.Retention, TimeSpan.FromSeconds(1));
        AtLeast(errors, "Sluice:Cache:EventsPerStream", o.Cache.EventsPerStream, 16);
        AtLeast(errors, "Sluice:Cache:MaxStreams", o.Cache.MaxStreams, 0);
        AtLeast(errors, "Sluice:Cache:MaxBytesPerStream", o.Cache.MaxBytesPerStream, 0);
        AtLeast(errors, "Sluice:Cache:MaxBytes", o.Cache.MaxBytes, 0);

        if (o.Retry > TimeSpan.FromHours(1))
        {
            errors.Add("Sluice:Retry must be at most 01:00:00.");
        }

        if (o.Limits.MaxEventBytes > o.Limits.MaxBodyBytes)
        {
            errors.Add("Sluice:Limits:MaxEventBytes must not exceed Sluice:Limits:MaxBodyBytes.");
        }

        for (var i = 0; i < o.Cors.Origins.Length; i++)
        {
            var origin = o.Cors.Origins[i];
            if (origin == "*" || !Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                errors.Add($"Sluice:Cors:Origins:{i} must be an exact origin such as https://app.example.com (got '{origin}'); '*' is not allowed.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsBase64Key(string value)
    {
        var bytes = new byte[value.Length];
        return Convert.TryFromBase64String(value, bytes, out var written) && written >= 32;
    }

    private static void Positive(List<string> errors, string key, TimeSpan value, TimeSpan min)
    {
        if (value < min || (min == TimeSpan.Zero && value <= TimeSpan.Zero))
        {
            errors.Add($"{key} must be a TimeSpan of at least {min} such as 00:00:15 (got {value}).");
        }
    }

    private static void AtLeast(List<string> errors, string key, long value, long min)
    {
        if (value < min)
        {
            errors.Add($"{key} must be at least {min} (got {value}).");
        }
    }
}
