using Sluice.Streams;

namespace Sluice.Core.Tests.Streams;

public sealed class ResumePlanTests
{
    private static readonly DateTimeOffset T = DateTimeOffset.UnixEpoch;

    private static StreamInfo Info(long first, long last, bool closed) => new("s", closed, first, last, T, closed ? T : null, T);

    [Theory]
    [InlineData(1, 10, false, 0, ResumeKind.Normal, 0)]
    [InlineData(1, 10, false, 10, ResumeKind.Normal, 10)]
    [InlineData(1, 10, true, 10, ResumeKind.NoContent, 10)]
    [InlineData(1, 10, true, 9, ResumeKind.Normal, 9)]
    [InlineData(1, 10, false, 11, ResumeKind.Ahead, 10)]
    [InlineData(1, 10, true, 11, ResumeKind.Ahead, 10)]
    [InlineData(5, 10, false, 4, ResumeKind.Normal, 4)]
    [InlineData(5, 10, false, 3, ResumeKind.Truncated, 4)]
    [InlineData(5, 10, false, 0, ResumeKind.Truncated, 4)]
    public void For_Position_PicksTheContractRule(long first, long last, bool closed, long position, ResumeKind kind, long startAfter)
    {
        var plan = ResumePlan.For(Info(first, last, closed), position);

        Assert.Equal((kind, startAfter), (plan.Kind, plan.StartAfter));
    }

    [Fact]
    public void For_MissingStream_IsNotFound() => Assert.Equal(ResumeKind.NotFound, ResumePlan.For(null, 0).Kind);
}
