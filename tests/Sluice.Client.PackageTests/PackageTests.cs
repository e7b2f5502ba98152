using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Client;
using Sluice.Client.Tests;
using Sluice.Testing;

namespace Sluice.Client.PackageTests;

/// <summary>The packed Sluice.Client, as an application gets it from a feed, resuming against a live Sluice.</summary>
public sealed class PackageTests : IAsyncLifetime
{
    private readonly int _seed = Environment.GetEnvironmentVariable("SLUICE_PROXY_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
    private SluiceTestServer _server = null!;

    public async Task InitializeAsync() => _server = await SluiceTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void SluiceClient_IsLoadedFromThePackageOfThisRun()
    {
        var version = typeof(PackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SluiceClientVersion").Value!;
        Assert.DoesNotContain("unset", version, StringComparison.Ordinal);
        var location = typeof(SluiceClient).Assembly.Location.Replace('\\', '/');

        // The build output holds a copy; the deps file says where it was resolved from.
        var deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sluice.Client.PackageTests.deps.json"));
        Assert.Contains($"\"Sluice.Client/{version}\"", deps, StringComparison.Ordinal);
        Assert.Contains("\"type\": \"package\"", deps[deps.IndexOf($"\"Sluice.Client/{version}\": {{", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.EndsWith("/Sluice.Client.dll", location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AGenerationThroughAProxyThatBreaksStreams_ResumesWithEveryTokenOnceInOrder_AndChatClientGetsTheText()
    {
        await using var proxy = new FaultyProxy(_server.BaseAddress, _seed);
        var services = new ServiceCollection();
        services.AddSluiceClient(o =>
        {
            o.BaseAddress = proxy.BaseAddress;
            o.ApiKey = SluiceTestServer.AdminKey;
            o.Backoff = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100)];
            o.HeartbeatTimeout = TimeSpan.FromSeconds(2);
            o.MaxRetries = 20;
        });
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<SluiceClient>();
        var because = $"seed {_seed} (replay with SLUICE_PROXY_SEED), faults {proxy.Faults}";

        var generation = await client.CreateGenerationAsync(new SluiceGenerationRequest
        {
            Model = "simulated/default",
            Messages = [new SluiceMessage("user", "long")],
            AdditionalProperties = new Dictionary<string, JsonElement> { ["simulate"] = JsonSerializer.SerializeToElement(new { output_tokens = 500, tokens_per_second = 500 }) },
        });
        var tokens = new List<(long Id, string Text)>();
        SluiceEvent? last = null;
        await foreach (var e in client.StreamGenerationAsync(generation.Id))
        {
            last = e;
            if (e is TokenEvent token)
            {
                tokens.Add((token.Id!.Value, token.Text));
            }
        }

        using var direct = _server.CreateClient();
        var stored = (await direct.ReadEventsAsync(generation.Id)).Where(i => i.EventType == "token")
            .Select(i => (long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture), JsonDocument.Parse(i.Data).RootElement.GetProperty("text").GetString()!)).ToList();
        Assert.True(stored.Count == 500, because);
        Assert.True(stored.SequenceEqual(tokens), because);
        Assert.Equal("stop", Assert.IsType<DoneEvent>(last).FinishReason);
        Assert.True(client.GetConnectionStats().Reconnects >= 1, because);

        var chat = provider.GetRequiredService<IChatClient>();
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")]);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var text = string.Concat((await direct.ReadEventsAsync(response.ResponseId!)).Where(i => i.EventType == "token")
            .Select(i => JsonDocument.Parse(i.Data).RootElement.GetProperty("text").GetString()));
        Assert.Equal(text, response.Text);
    }
}
