using System.Buffers;
using System.Net.ServerSentEvents;
using System.Text;
using Sluice.Streams;

namespace Sluice.Core.Tests.Streams;

public sealed class SseFramesTests
{
    [Fact]
    public void Frame_OfStoredEvent_IsIdEventDataBlock()
    {
        var e = new StoredEvent(7, "token", "{\"text\":\"a\\nb\"}", DateTimeOffset.UnixEpoch);

        Assert.Equal("event: token\ndata: {\"text\":\"a\\nb\"}\nid: 7\n\n", Encoding.UTF8.GetString(e.Frame.Span));
        Assert.True(e.Frame.Span == e.Frame.Span, "the frame is encoded once and shared");
    }

    [Fact]
    public void Unnumbered_HasNoIdLine() =>
        Assert.Equal("event: heartbeat\ndata: {}\n\n", Encoding.UTF8.GetString(SseFrames.EncodeUnnumbered("heartbeat", "{}")));

    [Fact]
    public void Retry_IsAFieldOnlyBlock() => Assert.Equal("retry: 1500\n\n", Encoding.UTF8.GetString(SseFrames.Retry(TimeSpan.FromMilliseconds(1500))));

    /// <summary>The runtime's parser reads our frames back through every chunking, one byte at a time included.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task Frames_ParsedInChunks_RoundTrip(int chunk)
    {
        var bytes = new List<byte>();
        bytes.AddRange(SseFrames.Retry(TimeSpan.FromSeconds(1)));
        bytes.AddRange(new StoredEvent(1, "token", "{\"t\":\"x\"}", DateTimeOffset.UnixEpoch).Frame.ToArray());
        bytes.AddRange(SseFrames.EncodeUnnumbered("heartbeat", "{\"server_time\":\"t\"}"));
        bytes.AddRange(new StoredEvent(2, "done", "{}", DateTimeOffset.UnixEpoch).Frame.ToArray());

        var parser = SseParser.Create(new ChunkedStream([.. bytes], chunk));
        var items = new List<SseItem<string>>();
        await foreach (var item in parser.EnumerateAsync())
        {
            items.Add(item);
        }

        Assert.Equal([("token", "1"), ("heartbeat", null), ("done", "2")], items.Select(i => (i.EventType, i.EventId)));
        Assert.Equal("2", parser.LastEventId);
        Assert.Equal(TimeSpan.FromSeconds(1), parser.ReconnectionInterval);
    }

    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
