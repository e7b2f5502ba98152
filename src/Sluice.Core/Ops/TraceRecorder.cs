using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sluice.Ops;

/// <summary>Records trace events on failure paths; a failure to record is logged, never passed to the request it describes.</summary>
internal sealed partial class TraceRecorder(ITraceLog log, TimeProvider time, ILogger<TraceRecorder> logger)
{
    /// <summary>Sampled kinds: at most this many events per kind, tenant and minute are recorded one by one.</summary>
    public const int MaxSampledPerMinute = 20;

    private const int MaxWindows = 10_000;
    private static readonly TimeSpan SampleWindow = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<(string Kind, string Tenant), Window> _windows = new();

    /// <summary>
    /// For kinds a client can cause at will and at no cost (a resume from an id in the future): the first
    /// <see cref="MaxSampledPerMinute"/> per kind, tenant and minute are recorded, the rest counted, and the count
    /// recorded as one event when the next minute's first one comes. False when this one was only counted.
    /// </summary>
    public async ValueTask<bool> RecordSampledAsync(string kind, string? traceId, string? tenant, string? generationId, string detail)
    {
        var now = time.GetUtcNow();
        if (_windows.Count >= MaxWindows)
        {
            _windows.Clear();
        }

        var window = _windows.GetOrAdd((kind, tenant ?? ""), static (_, at) => new Window { Start = at }, now);
        long counted = 0;
        bool record;
        lock (window)
        {
            if (now - window.Start >= SampleWindow)
            {
                counted = window.Counted;
                window.Start = now;
                window.Recorded = 0;
                window.Counted = 0;
            }

            record = window.Recorded < MaxSampledPerMinute;
            if (record)
            {
                window.Recorded++;
            }
            else
            {
                window.Counted++;
            }
        }

        if (counted > 0)
        {
            await RecordAsync(kind, null, tenant, null, $"{counted} more {kind} events in the minute before were counted, not recorded one by one");
        }

        if (record)
        {
            await RecordAsync(kind, traceId, tenant, generationId, detail);
        }

        return record;
    }

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

    private sealed class Window
    {
        public DateTimeOffset Start;
        public long Recorded;
        public long Counted;
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "Recording trace event {Kind} failed")]
    private partial void LogRecordFailed(Exception exception, string kind);
}
