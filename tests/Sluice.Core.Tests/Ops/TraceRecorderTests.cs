using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Ops;
using Sluice.Storage;

namespace Sluice.Core.Tests.Ops;

public sealed class TraceRecorderTests
{
    [Fact]
    public async Task SampledKinds_RecordTheFirstPerMinute_AndCountTheRestInOneEvent()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        var log = new MemoryTraceLog();
        var recorder = new TraceRecorder(log, time, NullLogger<TraceRecorder>.Instance);

        var recorded = 0;
        for (var i = 0; i < 500; i++)
        {
            recorded += await recorder.RecordSampledAsync("sse_resume_failed", null, "acme", null, $"event_id_ahead {i}") ? 1 : 0;
        }

        await recorder.RecordSampledAsync("sse_resume_failed", null, "globex", null, "event_id_ahead");
        time.Advance(TimeSpan.FromMinutes(1));
        await recorder.RecordSampledAsync("sse_resume_failed", null, "acme", null, "event_id_ahead next minute");
        var events = await log.SearchAsync("sse_resume_failed", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 0, 1000, CancellationToken.None);

        Assert.Equal(TraceRecorder.MaxSampledPerMinute, recorded);
        Assert.Equal(TraceRecorder.MaxSampledPerMinute + 1 + 2, events.Count);
        Assert.Single(events, e => e.Detail.StartsWith($"{500 - TraceRecorder.MaxSampledPerMinute} more sse_resume_failed events", StringComparison.Ordinal));
        Assert.Single(events, e => e.Tenant == "globex");
    }
}
