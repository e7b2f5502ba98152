using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;

namespace Sluice.Load;

/// <summary>
/// A lean SSE reader for load: it finds <c>data:</c> lines and pulls the numbers <c>"t"</c> (publish timestamp)
/// and <c>"n"</c> (sequence) out of them, without building strings. The client shares two cores with the
/// server, so every cycle it spends is taken from the system under test; both targets pay the same.
/// </summary>
internal sealed class SseLoadReader
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] TKey = "\"t\":"u8.ToArray();
    private static readonly byte[] NKey = "\"n\":"u8.ToArray();

    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _count;

    /// <summary>Reads until the stream ends or <paramref name="onEvent"/> returns false.</summary>
    public async Task RunAsync(Stream stream, Func<long, long, long, bool> onEvent, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_count == _buffer.Length)
            {
                throw new InvalidOperationException("An SSE line longer than 16 KiB.");
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_count), cancellationToken);
            if (read == 0)
            {
                return;
            }

            var now = Stopwatch.GetTimestamp();
            _count += read;
            var consumed = 0;
            while (true)
            {
                var span = _buffer.AsSpan(consumed, _count - consumed);
                var newline = span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                var line = span[..newline];
                consumed += newline + 1;
                if (line.StartsWith(DataPrefix) && TryNumber(line, TKey, out var t) && TryNumber(line, NKey, out var n))
                {
                    if (!onEvent(n, t, now))
                    {
                        return;
                    }
                }
            }

            _buffer.AsSpan(consumed, _count - consumed).CopyTo(_buffer);
            _count -= consumed;
        }
    }

    private static bool TryNumber(ReadOnlySpan<byte> line, ReadOnlySpan<byte> key, out long value)
    {
        value = 0;
        var at = line.IndexOf(key);
        return at >= 0 && Utf8Parser.TryParse(line[(at + key.Length)..], out value, out _);
    }
}
