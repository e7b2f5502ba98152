using Polly;
using Polly.Retry;

namespace Sluice.Storage;

/// <summary>
/// A Polly pipeline that retries a store operation while the store is unreachable (<see cref="IStoreFaults"/>),
/// within a total time budget, for the writes a generation cannot answer 503 to: its record's updates and its
/// terminal event's wait. Anything else is rethrown at once; past the budget Polly's timeout ends the wait. Only
/// for idempotent operations (a whole record written again is the same record).
/// </summary>
internal static class StoreOutage
{
    public static ResiliencePipeline Pipeline(IStoreFaults faults, TimeProvider time, TimeSpan budget) =>
        new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(budget)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && faults.IsUnavailable(e)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(1),
            })
            .Build();
}
