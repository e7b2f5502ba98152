using System.Buffers;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text;

namespace Sluice.Streams;

/// <summary>
/// SSE encoding through <see cref="SseFormatter"/>. Frames are encoded once and their bytes shared: the
/// hot path writes the same array to every connection. Data is compact JSON (no CR or LF), and ids and
/// types are validated before they get here, so no payload can inject a field.
/// </summary>
internal static class SseFrames
{
    private static readonly Action<SseItem<string>, IBufferWriter<byte>> WriteUtf8 =
        static (item, writer) => Encoding.UTF8.GetBytes(item.Data, writer);

    public static byte[] Encode(StoredEvent e) => e.Type == EventTypes.StoreLostEvents
        ? EncodeUnnumbered(EventTypes.Error, e.Data)
        : Encode(new SseItem<string>(e.Data, e.Type) { EventId = e.Id.ToString(CultureInfo.InvariantCulture) });

    /// <summary>An event with no <c>id:</c> line (heartbeat, resume errors): it never moves Last-Event-ID.</summary>
    public static byte[] EncodeUnnumbered(string type, string data) => Encode(new SseItem<string>(data, type));

    /// <summary>A default-type (<c>message</c>) event: <c>id:</c> and <c>data:</c> only, as OpenAI's chunks are framed.</summary>
    public static byte[] EncodeMessage(string data, long? id) =>
        Encode(new SseItem<string>(data) { EventId = id?.ToString(CultureInfo.InvariantCulture) });

    /// <summary><c>retry: ms</c> followed by a blank line: a field-only block that dispatches no event.</summary>
    public static byte[] Retry(TimeSpan interval) =>
        Encoding.UTF8.GetBytes("retry: " + ((long)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "\n\n");

    private static byte[] Encode(SseItem<string> item)
    {
        var buffer = new ArrayBufferWriter<byte>(item.Data.Length + 64);
        using var stream = new BufferWriterStream(buffer);

        // SseFormatter only writes to a Stream. With an in-memory stream every await completes synchronously,
        // so this GetResult never blocks.
#pragma warning disable VSTHRD002
        SseFormatter.WriteAsync(OneItem(item), stream, WriteUtf8, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        return buffer.WrittenSpan.ToArray();
    }

#pragma warning disable CS1998 // a synchronous one-item sequence
    private static async IAsyncEnumerable<SseItem<string>> OneItem(SseItem<string> item)
    {
        yield return item;
    }
#pragma warning restore CS1998

    private sealed class BufferWriterStream(ArrayBufferWriter<byte> buffer) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => buffer.WrittenCount;
        public override long Position { get => buffer.WrittenCount; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] data, int offset, int count) => buffer.Write(data.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> data) => buffer.Write(data);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            buffer.Write(data.Span);
            return ValueTask.CompletedTask;
        }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
