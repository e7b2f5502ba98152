namespace Sluice.Streams;

/// <summary>What a subscriber at a given position gets (API.md section 3, resume rules).</summary>
internal enum ResumeKind
{
    NotFound,

    /// <summary>The stream is closed and the client has everything: 204, so browsers stop reconnecting.</summary>
    NoContent,

    Normal,

    /// <summary>The position is older than retained history: <c>history_truncated</c>, then events from the first retained.</summary>
    Truncated,

    /// <summary>The position is beyond the last id: <c>event_id_ahead</c>, then live events.</summary>
    Ahead,
}

/// <summary>The decision for one subscribe: its kind and the id after which events are sent.</summary>
internal readonly record struct ResumePlan(ResumeKind Kind, long StartAfter, StreamInfo? Info)
{
    public static ResumePlan For(StreamInfo? info, long position)
    {
        if (info is null)
        {
            return new(ResumeKind.NotFound, 0, null);
        }

        if (position > info.LastId)
        {
            return new(ResumeKind.Ahead, info.LastId, info);
        }

        if (info.Closed && position == info.LastId)
        {
            return new(ResumeKind.NoContent, position, info);
        }

        if (position < info.FirstId - 1)
        {
            return new(ResumeKind.Truncated, info.FirstId - 1, info);
        }

        return new(ResumeKind.Normal, position, info);
    }
}
