using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Http.Problems;
using Sluice.Streams;

namespace Sluice.Http.Streams;

/// <summary>
/// Serves one SSE subscription with the resume rules of API.md section 3. Shared by every SSE endpoint;
/// the endpoint only decides which stream and checks access.
/// </summary>
internal sealed partial class SseResponder(
    StreamHub hub, IOptionsMonitor<SluiceOptions> options, TimeProvider time, Sluice.Protection.TenantQuotas quotas, Sluice.Ops.TraceRecorder traces, Sluice.Ops.OpsMetricsAggregator opsMetrics,
    Sluice.Tenancy.ApiKeyService keys, Microsoft.Extensions.Logging.ILogger<SseResponder> logger)
{
    public const string LastEventIdQuery = "lastEventId";

    private static readonly byte[] CredentialRevokedFrame = SseFrames.EncodeUnnumbered(EventTypes.Error,
        """{"code":"credential_revoked","message":"The credential this stream was opened with was revoked.","retryable":false}""");

    private static readonly byte[] CredentialExpiredFrame = SseFrames.EncodeUnnumbered(EventTypes.Error,
        """{"code":"credential_expired","message":"The credential this stream was opened with expired; open it again with a fresh one.","retryable":false}""");

    /// <summary>How long a response that ends in failure stays open after its last chunk before it is cut.</summary>
    private static readonly TimeSpan CutGrace = TimeSpan.FromMilliseconds(250);

    /// <param name="context">The request.</param>
    /// <param name="key">The stream.</param>
    /// <param name="format">Another wire format for its events (OpenAI chunks), or null.</param>
    /// <param name="pending">What to assume when the stream has no event yet but is known to be coming (a queued generation).</param>
    public async Task ServeAsync(HttpContext context, StreamKey key, SseEventFormat? format = null, StreamInfo? pending = null)
    {
        var header = context.Request.Headers["Last-Event-ID"];
        var raw = header.Count > 0 ? header.ToString() : context.Request.Query[LastEventIdQuery].ToString();
        if (!EventPosition.TryParse(raw, out var position))
        {
            await Problem.WriteAsync(context, 400, ProblemCodes.InvalidLastEventId, "The resume position is malformed.",
                "Last-Event-ID (or lastEventId) must be a non-negative decimal event id.");
            return;
        }

        var resuming = !string.IsNullOrEmpty(raw);
        if (resuming)
        {
            hub.RecordReconnect();
        }

        var plan = ResumePlan.For(await hub.GetInfoAsync(key, context.RequestAborted) ?? pending, position);
        var span = SseSpan.Of(context);
        SseSpan.Resumed(span, plan, resuming);
        switch (plan.Kind)
        {
            case ResumeKind.NotFound:
                await Problem.NotFound("The stream").ExecuteAsync(context);
                return;
            case ResumeKind.NoContent:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
        }

        using var connection = hub.TryOpenConnection();
        if (connection is null)
        {
            var retry = options.CurrentValue.Retry;
            await Problem.WriteAsync(context, 503, ProblemCodes.Overloaded, "Too many open streams on this node.",
                "Sluice:Limits:MaxSseConnections is reached or the node is shutting down; retry after the delay.", retry < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retry);
            return;
        }

        using var quota = quotas.AcquireStream(key.Tenant);
        if (!quota.IsAcquired)
        {
            await Problem.WriteAsync(context, 429, ProblemCodes.QuotaExceeded, "Too many open streams for this tenant.",
                "Sluice:Limits:MaxStreamsPerTenant is reached on this node; close a stream or retry after the delay.", TimeSpan.FromSeconds(1));
            return;
        }

        var opened = time.GetTimestamp();
        hub.Metrics?.ConnectionOpened();
        opsMetrics.SseConnection(key.Tenant, !string.IsNullOrEmpty(context.Request.Headers["Last-Event-ID"]) || !string.IsNullOrEmpty(context.Request.Query[LastEventIdQuery]));
        try
        {
            await StreamAsync(context, key, plan, format);
        }
        finally
        {
            hub.Metrics?.ConnectionClosed(time.GetElapsedTime(opened));
        }
    }

    private async Task StreamAsync(HttpContext context, StreamKey key, ResumePlan plan, SseEventFormat? format)
    {
        SseHeaders.Apply(context);
        var output = context.Response.BodyWriter;
        output.Write(SseFrames.Retry(options.CurrentValue.Retry));
        var info = plan.Info!;
        if (plan.Kind is ResumeKind.Truncated or ResumeKind.Ahead)
        {
            var reason = plan.Kind == ResumeKind.Truncated ? "history_truncated" : "event_id_ahead";
            hub.Metrics?.ResumeFailed(reason);
            opsMetrics.ResumeFailure(key.Tenant);
            // Sampled: a client can ask for a position in the future as often as it likes. The metric counts all.
            if (await traces.RecordSampledAsync("sse_resume_failed", context.Features.Get<Diagnostics.TraceIdFeature>()?.TraceId, key.Tenant,
                key.StreamId.StartsWith("generation/", StringComparison.Ordinal) ? key.StreamId["generation/".Length..] : null,
                $"{reason}: resuming after {plan.StartAfter} on stream {key.StreamId} (first {info.FirstId}, last {info.LastId})"))
            {
                LogResumeFailed(reason, plan.StartAfter);
            }
        }

        if (plan.Kind == ResumeKind.Truncated)
        {
            output.Write(SseFrames.EncodeUnnumbered(EventTypes.Error, string.Create(CultureInfo.InvariantCulture,
                $"{{\"code\":\"history_truncated\",\"first_available_id\":{info.FirstId},\"retryable\":false}}")));
        }
        else if (plan.Kind == ResumeKind.Ahead)
        {
            output.Write(SseFrames.EncodeUnnumbered(EventTypes.Error, string.Create(CultureInfo.InvariantCulture,
                $"{{\"code\":\"event_id_ahead\",\"last_id\":{info.LastId}}}")));
            if (info.Closed)
            {
                await output.FlushAsync(context.RequestAborted);
                return;
            }
        }

        var caller = context.Features.Get<Auth.SluiceCaller>();
        using var subscription = hub.CreateSubscription(key, context.RequestAborted, caller?.KeyId, caller?.ExpiresAt);
        if (caller is not null && !await keys.IsActiveAsync(caller.KeyId, context.RequestAborted))
        {
            // Revoked between authentication and here: the revocation's sweep of open responses missed this one.
            subscription.End(SessionEnd.CredentialRevoked, null);
        }

        await output.FlushAsync(subscription.Token);
        var session = new StreamSession(hub, key, output, plan.StartAfter, format);
        var end = await session.RunAsync(subscription);
        var ended = end switch
        {
            SessionEnd.Terminal => "terminal",
            SessionEnd.Overflow => "slow_consumer",
            SessionEnd.WriteTimeout => "write_timeout",
            SessionEnd.Reconnect => hub.IsDraining ? "drain" : "broadcast",
            SessionEnd.CredentialRevoked => "revoked",
            SessionEnd.CredentialExpired => "expired",
            _ => "client",
        };
        hub.Metrics?.Disconnected(ended);
        SseSpan.Ended(SseSpan.Of(context), ended);
        switch (end)
        {
            case SessionEnd.Terminal when format is { CutAfterTerminal: true } && !context.RequestAborted.IsCancellationRequested:
                // The error chunk is flushed; the response then ends without its last chunk. Kestrel drops what it
                // has not yet handed to the socket when it aborts a connection, so the chunk gets a moment to leave
                // first (a client that closes on the chunk, as OpenAI's Python SDK does, ends the wait).
                await output.FlushAsync(context.RequestAborted);
                try
                {
                    await Task.Delay(CutGrace, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                context.Abort();
                break;
            case SessionEnd.Overflow or SessionEnd.WriteTimeout:
                // Cut, not completed: the client sees an error and resumes from the log with its Last-Event-ID.
                context.Abort();
                break;
            case SessionEnd.CredentialRevoked or SessionEnd.CredentialExpired when !context.RequestAborted.IsCancellationRequested:
                // Id-less, so a client's Last-Event-ID stays on the last real event; a reconnect with the same credential is 401.
                output.Write(end == SessionEnd.CredentialRevoked ? CredentialRevokedFrame : CredentialExpiredFrame);
                using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
                {
                    deadline.CancelAfter(TimeSpan.FromSeconds(5));
                    await output.FlushAsync(deadline.Token);
                }

                if (format is not null)
                {
                    // Formats whose clients skip an unknown event (OpenAI's SDKs) must not see a clean end either.
                    context.Abort();
                }

                break;
            case SessionEnd.Reconnect when !context.RequestAborted.IsCancellationRequested:
                output.Write(SseFrames.Retry(subscription.ReconnectRetry ?? options.CurrentValue.Retry));
                using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
                {
                    // A client that stopped reading must not hold a shutdown or a drain.
                    deadline.CancelAfter(TimeSpan.FromSeconds(5));
                    await output.FlushAsync(deadline.Token);
                }

                break;
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 6001, Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "sse_resume_failed {Reason}: resuming after event {StartAfter}")]
    private partial void LogResumeFailed(string reason, long startAfter);
}
