using System.Globalization;
using Sluice.Generations;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// The prompt registry: one hash per tenant's prompt, with the version count, the active version, and per version
/// its template, model, parameters and time (<c>t:n</c>, <c>m:n</c>, <c>p:n</c>, <c>c:n</c>). Numbering is one script.
/// </summary>
internal sealed class RedisPromptStore(RedisConnection redis) : IPromptStore
{
    // ARGV: template, model, params, created (ms); '' stands for none (a template is never empty).
    private const string AddScript = """
        local n = redis.call('HINCRBY', KEYS[1], 'count', 1)
        redis.call('HSET', KEYS[1], 't:' .. n, ARGV[1], 'm:' .. n, ARGV[2], 'p:' .. n, ARGV[3], 'c:' .. n, ARGV[4])
        return n
        """;

    private const string ActivateScript = """
        if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'active', ARGV[1])
        return 1
        """;

    public async ValueTask<PromptVersion> AddVersionAsync(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var n = (int)await db.ScriptEvaluateAsync(AddScript, [Key(tenant, promptId)], [template, model ?? "", paramsJson ?? "", at.ToUnixTimeMilliseconds()]);
        return new PromptVersion(promptId, n, template, model, paramsJson, DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()));
    }

    public async ValueTask<bool> ActivateAsync(string tenant, string promptId, int version, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        return (long)await db.ScriptEvaluateAsync(ActivateScript, [Key(tenant, promptId)], [version]) == 1;
    }

    public async ValueTask<Prompt?> GetAsync(string tenant, string promptId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var fields = (await db.HashGetAllAsync(Key(tenant, promptId))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        if (!fields.TryGetValue("count", out var countText))
        {
            return null;
        }

        var count = int.Parse(countText, CultureInfo.InvariantCulture);
        var versions = new List<PromptVersion>(count);
        for (var n = 1; n <= count; n++)
        {
            var suffix = n.ToString(CultureInfo.InvariantCulture);
            if (fields.TryGetValue("t:" + suffix, out var template))
            {
                versions.Add(new PromptVersion(
                    promptId, n, template, Nullable(fields.GetValueOrDefault("m:" + suffix)), Nullable(fields.GetValueOrDefault("p:" + suffix)),
                    DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(fields["c:" + suffix], CultureInfo.InvariantCulture))));
            }
        }

        int? active = fields.TryGetValue("active", out var a) ? int.Parse(a, CultureInfo.InvariantCulture) : null;
        return new Prompt(promptId, versions, active);
    }

    private RedisKey Key(string tenant, string promptId) => redis.Keys.Named($"{{prompts}}:{tenant}/{promptId}");

    private static string? Nullable(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
