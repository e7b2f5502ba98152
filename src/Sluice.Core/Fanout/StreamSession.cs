using System.Buffers;
using System.IO.Pipelines;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// One subscriber's loop: replay from the log, join the live feed, replay again to close the window, then
/// live events. Every event with id &lt;= the last one sent is skipped, and a gap in ids (a reordered or
/// missed announcement) is healed from the log, so the seam has no gap and no duplicate.
/// </summary>
public sealed class StreamSession
{
    private const int ReplayBatch = 256;

    private readonly StreamHub _hub;
    private readonly StreamKey _key;
    private readonly PipeWriter _output;
    private long _lastSent;

    public StreamSession(StreamHub hub, StreamKey key, PipeWriter output, long startAfter)
    {
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
        var token = subscription.Token;
        try
        {
            if (await ReplayAsync(token))
            {
                return SessionEnd.Terminal;
            }

            using var watch = _hub.Watch(subscription);
            if (await ReplayAsync(token))
            {
                return SessionEnd.Terminal;
            }

            var reader = subscription.Reader;
            while (await reader.WaitToReadAsync(token))
            {
                while (reader.TryRead(out var item))
                {
                    if (item.Event is not { } e)
                    {
                        _output.Write(item.Unnumbered.Span);
                        continue;
                    }

                    if (e.Id <= _lastSent)
                    {
                        continue;
                    }

                    if (e.Id != _lastSent + 1)
                    {
                        // An announcement arrived early or was lost: the log has everything in order.
                        if (await ReplayAsync(token))
                        {
                            return SessionEnd.Terminal;
                        }

                        continue;
                    }

                    Write(e);
                    if (e.IsTerminal)
                    {
                        await FlushAsync(token);
                        return SessionEnd.Terminal;
                    }
                }

                if (await FlushAsync(token))
                {
                    return SessionEnd.ClientGone;
                }
            }

            return subscription.EndReason ?? SessionEnd.ClientGone;
        }
        catch (OperationCanceledException)
        {
            return subscription.EndReason == SessionEnd.Overflow ? SessionEnd.Overflow : SessionEnd.ClientGone;
        }
    }

    /// <summary>Writes every retained event after the last sent one; true when a terminal event was sent.</summary>
    private async Task<bool> ReplayAsync(CancellationToken token)
    {
        while (true)
        {
            var batch = await _hub.Log.ReadAsync(_key, _lastSent, ReplayBatch, token);
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
        _output.Write(e.Frame.Span);
        _lastSent = e.Id;
    }

    /// <summary>Flushes; true when the client is gone.</summary>
    private async ValueTask<bool> FlushAsync(CancellationToken token)
    {
        var result = await _output.FlushAsync(token);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException(token);
        }

        _hub.MarkEventSent();
        return result.IsCompleted;
    }
}
