using Sluice.Streams;

namespace Sluice.Core.Tests.Streams;

public sealed class ResumePlanTests
{
    private static readonly DateTimeOffset T = DateTimeOffset.UnixEpoch;

    private static StreamInfo Info(long first, long last, bool closed) => new("s", closed, first, last, T, closed ? T : null, T);

    [Theory]
    [InlineData(1, 10, false, 0, nameof(ResumeKind.Normal), 0)]
    [InlineData(1, 10, false, 10, nameof(ResumeKind.Normal), 10)]
    [InlineData(1, 10, true, 10, nameof(ResumeKind.NoContent), 10)]
    [InlineData(1, 10, true, 9, nameof(ResumeKind.Normal), 9)]
    [InlineData(1, 10, false, 11, nameof(ResumeKind.Ahead), 10)]
    [InlineData(1, 10, true, 11, nameof(ResumeKind.Ahead), 10)]
    [InlineData(5, 10, false, 4, nameof(ResumeKind.Normal), 4)]
    [InlineData(5, 10, false, 3, nameof(ResumeKind.Truncated), 4)]
    [InlineData(5, 10, false, 0, nameof(ResumeKind.Truncated), 4)]
    public void For_Position_PicksTheContractRule(long first, long last, bool closed, long position, string kind, long startAfter)
    {
        var plan = ResumePlan.For(Info(first, last, closed), position);

        Assert.Equal((Enum.Parse<ResumeKind>(kind), startAfter), (plan.Kind, plan.StartAfter));
    }

    [Fact]
    public void For_MissingStream_IsNotFound() => Assert.Equal(ResumeKind.NotFound, ResumePlan.For(null, 0).Kind);
}
