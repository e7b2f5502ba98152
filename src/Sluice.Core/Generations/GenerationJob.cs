using System.Diagnostics;

namespace Sluice.Generations;

/// <summary>A generation admitted to this node's runner: its request, its chain, and its cancellation.</summary>
internal sealed class GenerationJob
{
    private const int Queued = 0;
    private const int Running = 1;
    private const int Done = 2;
    private int _state;

    public GenerationJob(GenerationRecord record, GenerationRequest request, ModelRoute route, long admittedTimestamp)
    {
        Record = record;
        Request = request;
        Route = route;
        AdmittedTimestamp = admittedTimestamp;
    }

    public string Id => Record.Id;

    public GenerationRecord Record { get; set; }

    public GenerationRequest Request { get; }

    public ModelRoute Route { get; }

    /// <summary>When the node accepted it: time-to-first-token and end-to-end count from here, queue time included.</summary>
    public long AdmittedTimestamp { get; }

    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>The span of the request that created it (the caller's <c>traceparent</c> continued), parent of its span.</summary>
    public ActivityContext TraceParent { get; init; }

    /// <summary>This node's hold on the generation: its stream takes appends fenced by this lease only.</summary>
    public GenerationLease? Lease { get; init; }

    /// <summary>Its place on the node and in its tenant's quota, given back when it ends.</summary>
    public IDisposable? Admission { get; init; }

    public TaskCompletionSource<GenerationRecord> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool TryStart() => Interlocked.CompareExchange(ref _state, Running, Queued) == Queued;

    /// <summary>Claims a job that no worker started yet, so the canceller writes its end instead.</summary>
    public bool TryClaimQueued() => Interlocked.CompareExchange(ref _state, Done, Queued) == Queued;

    public bool IsRunning => Volatile.Read(ref _state) == Running;

    /// <summary>Set when the node stops before the run could finish: it ends with <c>worker_lost</c>, not as cancelled.</summary>
    public bool Lost { get; set; }
}
