using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// Appends a generation's events in order without making the provider wait for the store: while one append
/// is in flight, the events that arrive meanwhile gather and go in the next append as one batch. Each
/// token is still its own event with its own id; under load the batches grow instead of the latency.
/// Through a store outage (API.md section 9) the events wait in a bounded buffer and go in when the store is
/// back; an outage longer than the outage budget (the lease) or a buffer over <see cref="MaxBufferedEvents"/>
/// fails the writer with <see cref="StoreOutageOutlastedException"/>, and the generation ends <c>worker_lost</c>.
/// </summary>
internal sealed class GenerationEventWriter
{
    private readonly StreamHub _hub;
    private readonly StreamKey _key;
    private readonly object _lock = new();
    private List<NewEvent> _pending = new(8);

    // The batch list the last append finished with, reused for the next: the logs copy what they append and keep
    // no reference (IEventLog.AppendAsync), and a fresh list per batch was ~1.9 KB of a 16-token generation.
    private List<NewEvent>? _spare;
    private Task _pump = Task.CompletedTask;
    private bool _pumping;
    private Exception? _failure;
    private long _lastId;
    private int _written;
    private readonly TimeSpan _outageBudget;
    private readonly string? _fence;

    /// <summary>Events a writer holds at most while the store is unreachable (a generation's output is bounded by its max tokens too).</summary>
    public const int MaxBufferedEvents = 10_000;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A writer for <paramref name="key"/>, retrying appends for <paramref name="outageBudget"/> while the store is
    /// unreachable (zero fails at once), taking over at <paramref name="lastId"/>: it is the stream's only writer,
    /// which the store enforces with the generation's lease token, <paramref name="fence"/>.
    /// </summary>
    public GenerationEventWriter(StreamHub hub, StreamKey key, TimeSpan outageBudget = default, long lastId = 0, string? fence = null)
    {
        _fence = fence;
        _hub = hub;
        _key = key;
        _outageBudget = outageBudget;
        _lastId = lastId;
    }

    /// <summary>True once the writer gave up because the store stayed unreachable past the budget.</summary>
    public bool OutageOutlasted => Volatile.Read(ref _failure) is StoreOutageOutlastedException;

    /// <summary>Events handed to the writer so far (a token was exposed once this is non-zero).</summary>
    public int Written => Volatile.Read(ref _written);

    public long LastId => Interlocked.Read(ref _lastId);

    /// <summary>True once an append found the stream closed by an earlier terminal event.</summary>
    public bool StreamClosed { get; private set; }

    /// <summary>True once the store refused an append because the generation's lease is another holder's now.</summary>
    public bool LeaseLost { get; private set; }

    /// <summary>The lease token the writer's appends carry.</summary>
    public string? Fence => _fence;

    /// <summary>Called by the generation's one producer; <see cref="FlushAsync"/> by the same one, after its last add.</summary>
    public void Add(NewEvent e)
    {
        bool start;
        lock (_lock)
        {
            if (_failure is not null)
            {
                throw new InvalidOperationException("The generation's stream could not be written.", _failure);
            }

            _pending.Add(e);
            _written++;
            start = !_pumping;
            _pumping = true;
        }

        if (start)
        {
            var pump = PumpAsync();
            lock (_lock)
            {
                _pump = pump;
            }
        }
    }

    /// <summary>Waits until every added event is durable; rethrows a store failure.</summary>
    public async Task FlushAsync()
    {
        Task pump;
        lock (_lock)
        {
            pump = _pump;
        }

        await pump;
        if (_failure is not null)
        {
            throw new InvalidOperationException("The generation's stream could not be written.", _failure);
        }
    }

    private async Task PumpAsync()
    {
        // No yield first: the first append starts inline on the provider's loop, which saves a thread-pool
        // hop on the first token (measured: see docs/benchmarks.md, first-token overhead). The loop is not
        // held by it past the store's first await.
        while (true)
        {
            List<NewEvent> batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    _pumping = false;
                    return;
                }

                batch = _pending;
                _pending = _spare ?? new List<NewEvent>(8);
                _spare = null;
            }

            try
            {
                // Not cancellable: an event handed to the writer is the generation's truth, and a cancelled
                // generation still ends with its terminal event.
                Interlocked.Exchange(ref _lastId, await AppendAsync(batch));
                batch.Clear();
                lock (_lock)
                {
                    _spare = batch;
                }
            }
            catch (Exception ex)
            {
                lock (_lock)
                {
                    _failure = ex;
                    _pending.Clear();
                    _pumping = false;
                }

                return;
            }
        }
    }

    /// <summary>Appends the batch, through an outage within the budget; returns the new last id.</summary>
    /// <remarks>
    /// A loop, not <see cref="Storage.StoreOutage"/>'s Polly pipeline: this runs per batch on every generation, where
    /// the pipeline's timeout strategy costs a context and a linked token source per call; this costs nothing until
    /// an append fails. It also checks, before each retry, whether the failed append landed.
    /// </remarks>
    private async Task<long> AppendAsync(List<NewEvent> batch)
    {
        var before = Interlocked.Read(ref _lastId);
        long? outageStarted = null;
        var delay = FirstRetryDelay;
        var time = _hub.Time;
        while (true)
        {
            try
            {
                if (outageStarted is not null)
                {
                    // The append that failed may have reached the store before the connection broke (a reply lost,
                    // not the command). As the stream's only writer, this one tells by the stream's last id.
                    var info = await _hub.Log.GetInfoAsync(_key, CancellationToken.None);
                    if (info is not null && info.LastId >= before + batch.Count)
                    {
                        return before + batch.Count;
                    }
                }

                var result = await _hub.PublishAsync(_key, batch, _fence, CancellationToken.None);
                if (result.Status == AppendStatus.LeaseLost)
                {
                    LeaseLost = true;
                    throw new InvalidOperationException("The generation's lease is another node's now: its stream takes nothing more from this one.");
                }

                if (result.Status != AppendStatus.Appended)
                {
                    StreamClosed = true;
                    throw new InvalidOperationException("The generation's stream is closed.");
                }

                return result.Events[^1].Id;
            }
            catch (Exception ex) when (_hub.Faults.IsUnavailable(ex))
            {
                outageStarted ??= time.GetTimestamp();
                int buffered;
                lock (_lock)
                {
                    buffered = _pending.Count + batch.Count;
                }

                if (time.GetElapsedTime(outageStarted.Value) >= _outageBudget || buffered > MaxBufferedEvents)
                {
                    throw new StoreOutageOutlastedException(_outageBudget, buffered, ex);
                }

                await Task.Delay(delay, time);
                delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            }
        }
    }
}

/// <summary>The store stayed unreachable longer than a running generation may wait for it.</summary>
internal sealed class StoreOutageOutlastedException(TimeSpan budget, int buffered, Exception inner)
    : Exception($"The store was unreachable for longer than {budget} (or {buffered} events waited): the generation's output could not be kept.", inner);
