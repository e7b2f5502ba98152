using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// Appends a generation's events in order without making the provider wait for the store: while one append
/// is in flight, the events that arrive meanwhile gather and go in the next append as one batch. Each
/// token is still its own event with its own id; under load the batches grow instead of the latency.
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

    public GenerationEventWriter(StreamHub hub, StreamKey key)
    {
        _hub = hub;
        _key = key;
    }

    /// <summary>Events handed to the writer so far (a token was exposed once this is non-zero).</summary>
    public int Written => Volatile.Read(ref _written);

    public long LastId => Interlocked.Read(ref _lastId);

    /// <summary>True once an append found the stream closed by an earlier terminal event.</summary>
    public bool StreamClosed { get; private set; }

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
                var result = await _hub.PublishAsync(_key, batch, CancellationToken.None);
                if (result.Status != AppendStatus.Appended)
                {
                    StreamClosed = true;
                    throw new InvalidOperationException("The generation's stream is closed.");
                }

                Interlocked.Exchange(ref _lastId, result.Events[^1].Id);
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
}
