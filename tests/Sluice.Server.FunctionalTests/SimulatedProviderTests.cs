using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Providers.Simulated;

namespace Sluice.Server.FunctionalTests;

/// <summary>The built-in provider's default run looks like a model streaming an answer, on a fake clock.</summary>
public sealed class SimulatedProviderTests
{
    [Fact]
    public async Task Default_StartsAfterAboutAThirdOfASecond_ThenStreamsReadableSentencesAtThirtyTokensASecond()
    {
        var time = new FakeTimeProvider();
        var client = new SimulatedChatClient("simulated", "default", () => null, time);
        await using var updates = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "What does Sluice do?")]).GetAsyncEnumerator();

        var first = updates.MoveNextAsync();
        time.Advance(TimeSpan.FromMilliseconds(SimulatedChatClient.DefaultTtftMs - 1));
        Assert.False(first.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await first);
        var text = updates.Current.Text;

        // About 33 ms apart: not within 20 ms, within 40.
        var second = updates.MoveNextAsync();
        time.Advance(TimeSpan.FromMilliseconds(20));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(20));
        Assert.True(await second);
        text += updates.Current.Text;

        while (true)
        {
            var next = updates.MoveNextAsync();
            time.Advance(TimeSpan.FromMilliseconds(34));
            if (!await next)
            {
                break;
            }

            text += updates.Current.Text;
        }

        Assert.True(text.Split(' ').Length >= 30, text);
        Assert.True(text.Count(c => c == '.') >= 3, text);
        Assert.EndsWith(".", text, StringComparison.Ordinal);
        Assert.True(char.IsUpper(text[0]), text);
    }

    [Fact]
    public async Task Shaped_ZeroDelays_RunWithoutTheClock()
    {
        var client = new SimulatedChatClient("simulated", "default", () => null, new FakeTimeProvider());
        var options = new ChatOptions { AdditionalProperties = new() { [SimulateOptions.ChatOptionsKey] = new SimulateOptions { TtftMs = 0, TokensPerSecond = 0, OutputTokens = 80 } } };

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "x")], options);

        // Longer than one answer: the text runs on into the next.
        Assert.Equal(80, response.Text.Split(' ').Length);
    }
}
