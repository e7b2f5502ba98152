using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Streams;
using Sluice.Streams;
using Sluice.Http.Documentation;

namespace Sluice.Http.Logs;

/// <summary><c>GET /v1/logs/stream?level=</c> (role admin): the node's log as SSE, <c>event: log</c>, live only (no ids, no replay).</summary>
internal static class LogsApi
{
    public static IEndpointRouteBuilder MapLogsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/logs/stream", StreamAsync).RequireAuthorization(SluicePolicies.Admin)
            .ProducesEventStream().ProducesProblems(400).WithTags("Health");
        return endpoints;
    }

    internal static async Task StreamAsync(HttpContext context, LogStream logs, IHostApplicationLifetime lifetime, IOptionsMonitor<SluiceOptions> options, TimeProvider time, string? level)
    {
        if (!LogLevels.TryParse(level, out var minimum))
        {
            await Problem.BadRequest(ProblemCodes.InvalidRequest, "level must be trace, debug, information, warning, error or critical.").ExecuteAsync(context);
            return;
        }

        using var subscription = logs.Subscribe(minimum);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        SseHeaders.Apply(context);
        var output = context.Response.BodyWriter;
        output.Write(SseFrames.Retry(options.CurrentValue.Retry));
        await output.FlushAsync(ended.Token);
        var heartbeat = options.CurrentValue.Heartbeat;
        try
        {
            while (!ended.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ended.Token);
                wait.CancelAfter(heartbeat);
                bool more;
                try
                {
                    more = await subscription.Entries.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!ended.IsCancellationRequested)
                {
                    output.Write(SseFrames.EncodeUnnumbered(EventTypes.Heartbeat, "{\"server_time\":\"" + time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture) + "\"}"));
                    await output.FlushAsync(ended.Token);
                    continue;
                }

                if (!more)
                {
                    break;
                }

                while (subscription.Entries.TryRead(out var entry))
                {
                    output.Write(SseFrames.EncodeUnnumbered("log", entry.ToJson()));
                }

                await output.FlushAsync(ended.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
