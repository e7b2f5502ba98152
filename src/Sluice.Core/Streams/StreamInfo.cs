namespace Sluice.Streams;

/// <summary>Metadata of one stream (API.md section 2, <c>GET /v1/streams/{id}</c>).</summary>
internal sealed record StreamInfo(
    string StreamId,
    bool Closed,
    long FirstId,
    long LastId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ClosedAt,
    DateTimeOffset LastEventAt)
{
    /// <summary>Ids are dense, so the retained count follows from the bounds.</summary>
    public long Events => LastId >= FirstId ? LastId - FirstId + 1 : 0;
}
