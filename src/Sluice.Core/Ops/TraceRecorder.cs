using Microsoft.Extensions.Logging;

namespace Sluice.Ops;

/// <summary>Records trace events on failure paths; a failure to record is logged, never passed to the request it describes.</summary>
public sealed partial class TraceRecorder(ITraceLog log, TimeProvider time, ILogger<TraceRecorder> logger)
{
    public async ValueTask RecordAsync(string kind, string? traceId, string? tenant, string? generationId, string detail)
    {
        try
        {
            await log.AppendAsync(new TraceEvent(0, time.GetUtcNow(), kind, traceId, tenant, generationId, detail), CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogRecordFailed(ex, kind);
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "Recording trace event {Kind} failed")]
    private partial void LogRecordFailed(Exception exception, string kind);
}
