using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

// Alone: the check counts the bytes the whole process allocates while one request is served.
[CollectionDefinition(nameof(PromptExpansionTests), DisableParallelization = true)]
public sealed class PromptExpansionCollection;

/// <summary>A prompt's variables are substituted within <c>Sluice:Generations:MaxPromptChars</c>, never built past it.</summary>
[Collection(nameof(PromptExpansionTests))]
public sealed class PromptExpansionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task AShortTemplateNamingAHugeVariableManyTimes_IsRefusedBeforeItIsBuilt()
    {
        await using var server = await SluiceTestServer.StartAsync(settings: new Dictionary<string, string> { ["Sluice:Generations:MaxPromptChars"] = "1000" });
        using var client = server.CreateClient();
        using (var version = await client.PostJsonAsync("/v1/prompts/amplify/versions", JsonSerializer.Serialize(new { template = string.Concat(Enumerable.Repeat("{{v}}", 190)), model = "simulated/default" })))
        using (var approve = await client.PostAsync("/v1/prompts/amplify/versions/1/approve", null))
        {
            await Api.EnsureAsync(approve, 200);
        }

        // 3 MB of request, 570 million characters (over 1 GB) once expanded.
        var body = JsonSerializer.Serialize(new { prompt = new { id = "amplify", variables = new { v = new string('x', 3_000_000) } } });
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await client.PostJsonAsync("/v1/generations", body);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        output.WriteLine($"serving the refused request allocated {allocated:N0} bytes");
        Assert.Equal("prompt_too_long", (await response.ProblemAsync(400)).GetProperty("code").GetString());
        Assert.True(allocated < 200_000_000, $"serving the request allocated {allocated:N0} bytes");

        // Within the limit the same template expands as before.
        var fits = (await client.CreateGenerationAsync(JsonSerializer.Serialize(new { prompt = new { id = "amplify", variables = new { v = "ab" } } }))).GetProperty("id").GetString()!;
        Assert.Equal("succeeded", (await client.WaitFinishedAsync(fits)).GetProperty("status").GetString());
    }
}
