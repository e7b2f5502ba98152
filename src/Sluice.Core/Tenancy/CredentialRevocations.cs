using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Fanout;

namespace Sluice.Tenancy;

/// <summary>
/// Makes a revocation reach the responses already open: a revoked key's SSE responses, and those opened with
/// access tokens it minted, end at once with an id-less <c>error</c> <c>credential_revoked</c>. (Expiry is each
/// response's own timer; see <see cref="Subscription"/>.)
/// </summary>
internal sealed partial class CredentialRevocations(ApiKeyService keys, StreamHub hub, ILogger<CredentialRevocations> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        keys.Revoked += OnRevoked;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        keys.Revoked -= OnRevoked;
        return Task.CompletedTask;
    }

    private void OnRevoked(string keyId)
    {
        var ended = hub.EndCredential(keyId);
        if (ended > 0)
        {
            LogEnded(keyId, ended);
        }
    }

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Key {KeyId} was revoked: ended its {Count} open SSE responses")]
    private partial void LogEnded(string keyId, int count);
}
