using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Tenancy;

/// <summary>
/// Makes sure an admin can get in: the configured <c>Sluice:AdminKey</c> is registered, or on a first start
/// with no keys one is generated, printed once to standard output (never to the log) and saved under the
/// data directory with owner-only permissions (to standard error when the log is JSON on standard output).
/// </summary>
internal sealed partial class KeyBootstrapper(
    ApiKeyService keys, IKeyStore store, IOptions<SluiceOptions> options, ILogger<KeyBootstrapper> logger) : IHostedService
{
    public const string FileName = "admin.key";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (o.AdminKey is { } configured)
        {
            // By hash, not by authentication: a revoked (or expired) configured key is still stored, and must stay
            // refused rather than be registered again (which the unique hash would refuse with a crash).
            switch (await store.FindByHashAsync(ApiKeyService.Hash(configured), cancellationToken))
            {
                case null:
                    await keys.CreateAsync(Tenants.Default, Roles.Admin, "bootstrap (Sluice:AdminKey)", null, cancellationToken, configured);
                    LogConfigured();
                    break;
                case { RevokedAt: not null } revoked:
                    LogConfiguredRevoked(revoked.Id);
                    break;
                default:
                    LogConfigured();
                    break;
            }

            return;
        }

        if (await store.AnyAsync(cancellationToken))
        {
            return;
        }

        var (record, secret) = await keys.CreateAsync(Tenants.Default, Roles.Admin, "bootstrap", null, cancellationToken);
        string? path = null;
        if (o.StoreKind == StoreKind.Sqlite)
        {
            Storage.DataDirectory.Secure(o.DataDir, logger);
            path = Path.GetFullPath(Path.Combine(o.DataDir, FileName));
            await Storage.DataDirectory.WriteOwnerOnlyAsync(path, secret + "\n", cancellationToken);
        }

        // Printed, not logged: log sinks are shipped and retained; the console of a first start is watched by a person.
        // With JSON logs standard output is one JSON object per line for a shipper, so the notice goes to standard error.
        var console = o.Logging.Json ? Console.Error : Console.Out;
        await console.WriteLineAsync(
            $"Sluice: created the bootstrap admin key {record.Id} for tenant '{Tenants.Default}'. It is shown once:\n  {secret}\n" +
            (path is null ? "  (not saved: Sluice:Store=memory)" : $"  saved to {path}"));
        await console.FlushAsync(cancellationToken);
        LogGenerated(record.Id);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Bootstrap admin key from Sluice:AdminKey is registered")]
    private partial void LogConfigured();

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Sluice:AdminKey names key {KeyId}, which was revoked: it stays refused (set Sluice:AdminKey to a new secret, or remove it)")]
    private partial void LogConfiguredRevoked(string keyId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "No keys existed: generated bootstrap admin key {KeyId} (printed once on standard output)")]
    private partial void LogGenerated(string keyId);
}
