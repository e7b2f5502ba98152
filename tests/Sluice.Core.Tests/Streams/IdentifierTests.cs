using Sluice.Streams;

namespace Sluice.Core.Tests.Streams;

public sealed class IdentifierTests
{
    [Theory]
    [InlineData("a", true)]
    [InlineData("chat-42.v1:part_2", true)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    [InlineData("a\nb", false)]
    [InlineData("a\0", false)]
    [InlineData("a/b", false)]
    [InlineData("é", false)]
    public void IsValidStreamId_FollowsTheContractCharset(string id, bool valid) => Assert.Equal(valid, Identifiers.IsValidStreamId(id));

    [Fact]
    public void IsValidStreamId_LengthLimitIs128() =>
        Assert.Equal((true, false), (Identifiers.IsValidStreamId(new string('a', 128)), Identifiers.IsValidStreamId(new string('a', 129))));

    [Theory]
    [InlineData("token", true)]
    [InlineData("safe_response", true)]
    [InlineData("heartbeat", true)]
    [InlineData("x-progress", true)]
    [InlineData("x-a.b_c-1", true)]
    [InlineData("x-", false)]
    [InlineData("X-progress", false)]
    [InlineData("x-Progress", false)]
    [InlineData("x-a\nid: 1", false)]
    [InlineData("x-a\r", false)]
    [InlineData("x-a\0", false)]
    [InlineData("message", false)]
    [InlineData(null, false)]
    public void EventTypes_IsValid_AcceptsContractTypesAndSafeCustomOnes(string? type, bool valid) => Assert.Equal(valid, EventTypes.IsValid(type));

    [Theory]
    [InlineData(null, true, 0L)]
    [InlineData("", true, 0L)]
    [InlineData("0", true, 0L)]
    [InlineData("42", true, 42L)]
    [InlineData("9223372036854775807", true, long.MaxValue)]
    [InlineData("9223372036854775808", false, 0L)]
    [InlineData("-1", false, 0L)]
    [InlineData("+1", false, 0L)]
    [InlineData(" 1", false, 0L)]
    [InlineData("1e3", false, 0L)]
    [InlineData("٣", false, 0L)]
    public void EventPosition_TryParse_AcceptsOnlyDecimalIds(string? raw, bool ok, long expected)
    {
        var parsed = EventPosition.TryParse(raw, out var position);

        Assert.Equal(ok, parsed);
        if (ok)
        {
            Assert.Equal(expected, position);
        }
    }
}
