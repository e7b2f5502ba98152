using Microsoft.Extensions.AI;
using Sluice.Generations;

namespace Sluice.Core.Tests.Generations;

public sealed class GenerationRunTests
{
    [Fact]
    public void Map_TurnsContentIntoTheContractsEvents_AndCountsAsItGoes()
    {
        var run = new GenerationRun(holdOutput: false);

        var token = run.Map(new TextContent("Hel"));
        var empty = run.Map(new TextContent(""));
        var tool = run.Map(new FunctionCallContent("call_1", "lookup", new Dictionary<string, object?> { ["q"] = "x" }));
        var usage = run.Map(new UsageContent(new UsageDetails { InputTokenCount = 4, OutputTokenCount = 9 }));

        Assert.Equal(("token", "{\"text\":\"Hel\"}"), (token!.Type, token.Data));
        Assert.Null(empty);
        Assert.Equal("tool", tool!.Type);
        Assert.Null(usage);
        Assert.Equal((4L, 9L), (run.InputTokens, run.OutputTokens));
        Assert.Null(run.Held);
    }

    [Fact]
    public void HeldOutput_IsKeptForTheContract_AndANewAttemptStartsClean()
    {
        var run = new GenerationRun(holdOutput: true);
        run.Map(new TextContent("{\"a\":"));
        run.Map(new TextContent("1}"));

        Assert.Equal("{\"a\":1}", run.Text!.ToString());
        Assert.Equal(2, run.OutputTokens);

        run.ResetAttempt();
        Assert.Equal("", run.Text!.ToString());
        Assert.Equal(0, run.OutputTokens);
    }

    [Theory]
    [InlineData("length", "length")]
    [InlineData("tool_calls", "tool_calls")]
    [InlineData("content_filter", "content_filter")]
    [InlineData("stop", "stop")]
    public void MapFinish_NamesTheContractsReasons(string reason, string expected) =>
        Assert.Equal(expected, GenerationRun.MapFinish(new ChatFinishReason(reason)));
}
