using System.Buffers;
using System.IO.Pipelines;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// One subscriber's loop: replay from the log, join the live feed, replay again to close the window, then
/// live events from the stream's shared ring. Every event with id &lt;= the last one sent is skipped, and an
/// id the ring lacks (announced late, or lost) is read from the log, so the seam has no gap and no duplicate.
/// Each wake-up writes everything available and flushes once, so a lagging subscriber catches up in batches.
/// </summary>
internal sealed class StreamSession
{
    private const int ReplayBatch = 256;

    private readonly StreamHub _hub;
    private readonly StreamKey _key;
    private readonly PipeWriter _output;
    private long _lastSent;
    private Subscription? _subscription;
    private readonly int[] _sentByType = new int[8];
    private bool _eventsSinceFlush;
    private readonly SseEventFormat? _format;

    // A read of the log failed because the store was unreachable: the response stays open (heartbeats go on) and
    // the read is tried again at each wake-up until it succeeds.
    private bool _replayOwed;

    public StreamSession(StreamHub hub, StreamKey key, PipeWriter output, long startAfter, SseEventFormat? format = null)
    {
        _format = format;
        _hub = hub;
        _key = key;
        _output = output;
        _lastSent = startAfter;
    }

    /// <summary>The id of the last event written.</summary>
    public long LastSentId => _lastSent;

    /// <summary>Runs until a terminal event, the client leaves, the subscriber overflows or the server asks it to reconnect.</summary>
    public async Task<SessionEnd> RunAsync(Subscription subscription)
    {
        _subscription = subscription;
        subscription.LastSent = _lastSent;
        var token = subscription.Token;
        try
        {
            if (await TryReplayAsync(token))
            {
                return SessionEnd.Terminal;
            }

            using var watch = await _hub.WatchAsync(subscription);
            if (await TryReplayAsync(token))
            {
                return SessionEnd.Terminal;
            }

            subscription.MarkLive();
            var ring = subscription.Ring!;
            while (true)
            {
                await subscription.WaitAsync();
                if (token.IsCancellationRequested)
                {
                    return subscription.EndReason is SessionEnd.Overflow or SessionEnd.WriteTimeout ? subscription.EndReason.Value : SessionEnd.ClientGone;
                }

                var wrote = false;
                if (subscription.TakeHeartbeat())
                {
                    _output.Write(_format is null ? _hub.HeartbeatFrame.Span : _format.Heartbeat.Span);
                    _sentByType[5]++;
                    wrote = true;
                }

                if (_replayOwed && await ReadLogOffThePassAsync(token))
                {
                    return SessionEnd.Terminal;
                }

                while (_lastSent < ring.Head)
                {
                    var read = ring.TryGet(_lastSent + 1, out var e);
                    if (read == RingRead.Found)
                    {
                        Write(e!);
                        wrote = true;
                        if (e!.IsTerminal)
                        {
                            await FlushAsync(token);
                            return SessionEnd.Terminal;
                        }

                        continue;
                    }

                    if (read == RingRead.Overwritten)
                    {
                        subscription.End(SessionEnd.Overflow, null);
                        return SessionEnd.Overflow;
                    }

                    // Missing: announced out of order or lost. The log has it, in order.
                    var before = _lastSent;
                    if (await ReadLogOffThePassAsync(token))
                    {
                        return SessionEnd.Terminal;
                    }

                    if (_lastSent == before)
                    {
                        break; // not readable yet either; the next wake-up tries again
                    }
                }

                if (subscription.EndReason is { } end)
                {
                    if (wrote)
                    {
                        await FlushAsync(token);
                    }

                    return end;
                }

                if (wrote && await FlushAsync(token))
                {
                    return SessionEnd.ClientGone;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return subscription.EndReason is SessionEnd.Overflow or SessionEnd.WriteTimeout ? subscription.EndReason.Value : SessionEnd.ClientGone;
        }
    }

    /// <summary>
    /// A read of the log from the live loop, which may be running on its stream's delivery pass (LocalFanout): SQLite
    /// reads block, so the session leaves the pass first instead of holding up every other subscriber of the stream.
    /// Only gaps and store outages come here; the live path reads the ring.
    /// </summary>
    private async Task<bool> ReadLogOffThePassAsync(CancellationToken token)
    {
        await Task.Yield();
        return await TryReplayAsync(token);
    }

    /// <summary>As <see cref="ReplayAsync"/>, but a store outage leaves the replay owed instead of ending the response.</summary>
    private async Task<bool> TryReplayAsync(CancellationToken token)
    {
        _replayOwed = false;
        try
        {
            return await ReplayAsync(token);
        }
        catch (Exception ex) when (!token.IsCancellationRequested && _hub.Faults.IsUnavailable(ex))
        {
            _replayOwed = true;
            if (_eventsSinceFlush && await FlushAsync(token))
            {
                throw new OperationCanceledException(token);
            }

            return false;
        }
    }

    /// <summary>Writes every retained event after the last sent one; true when a terminal event was sent.</summary>
    private async Task<bool> ReplayAsync(CancellationToken token)
    {
        while (true)
        {
            var batch = await _hub.ReadAsync(_key, _lastSent, ReplayBatch, token);
            foreach (var e in batch)
            {
                if (e.Id <= _lastSent)
                {
                    continue;
                }

                Write(e);
                if (e.IsTerminal)
                {
                    await FlushAsync(token);
                    return true;
                }
            }

            if (batch.Count > 0)
            {
                await FlushAsync(token);
            }

            if (batch.Count < ReplayBatch)
            {
                return false;
            }
        }
    }

    private void Write(StoredEvent e)
    {
        _output.Write(_format is null ? e.Frame.Span : _format.Frame(e).Span);
        _lastSent = e.Id;
        _subscription!.LastSent = e.Id;
        _sentByType[Diagnostics.SluiceMetrics.TypeIndex(e.Type)]++;
        _eventsSinceFlush = true;
    }

    /// <summary>Flushes; true when the client is gone.</summary>
    private async ValueTask<bool> FlushAsync(CancellationToken token)
    {
        var pending = _output.FlushAsync(token);
        FlushResult result;
        if (pending.IsCompleted)
        {
            result = pending.Result;
        }
        else
        {
            _subscription!.ArmWriteDeadline(_hub.Time, _hub.WriteTimeout);
            try
            {
                result = await pending;
            }
            finally
            {
                _subscription.DisarmWriteDeadline();
            }
        }

        if (result.IsCanceled)
        {
            throw new OperationCanceledException(token);
        }

        if (_eventsSinceFlush)
        {
            _hub.MarkEventSent();
            _eventsSinceFlush = false;
        }

        _hub.Metrics?.EventsSent(_sentByType);
        return result.IsCompleted;
    }
}
