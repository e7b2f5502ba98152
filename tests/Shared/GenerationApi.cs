using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace Sluice.Testing;

/// <summary>Helpers over the generations API: create, wait, and read a generation's events as a client does.</summary>
public static class GenerationApi
{
    /// <summary>A simulated generation that runs until cancelled (20 tokens/s for 100,000 tokens): it holds its place.</summary>
    public const string EndlessGeneration = """{"model":"simulated/default","messages":[{"role":"user","content":"slow"}],"simulate":{"output_tokens":100000,"tokens_per_second":20}}""";

    public static async Task<JsonElement> CreateGenerationAsync(this HttpClient client, string json, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        await Api.EnsureAsync(response, 202);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Every item of the generation's stream from <paramref name="lastEventId"/> until the server ends the response.</summary>
    public static async Task<List<SseItem<string>>> ReadEventsAsync(this HttpClient client, string id, string? lastEventId = null, string query = "")
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var sse = await SseClient.ConnectAsync(client, $"/v1/generations/{id}/events{query}", lastEventId, timeout.Token);
        var items = new List<SseItem<string>>();
        await foreach (var item in sse.ReadAllAsync(timeout.Token))
        {
            if (item.EventType != "heartbeat")
            {
                items.Add(item);
            }
        }

        return items;
    }

    /// <summary>The record once it has finished (its terminal event is stored before the record is).</summary>
    public static async Task<JsonElement> WaitFinishedAsync(this HttpClient client, string id)
    {
        // The stream ends at the terminal event; the record follows it in the same run.
        await client.ReadEventsAsync(id);
        for (var attempt = 0; ; attempt++)
        {
            var record = await client.GetJsonAsync($"/v1/generations/{id}");
            if (record.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled" || attempt > 200)
            {
                return record;
            }

            await Task.Yield();
        }
    }

    /// <summary>One provider's entry of <c>GET /v1/ops/llm/providers/health</c>.</summary>
    public static async Task<JsonElement> ProviderHealthAsync(this HttpClient client, string provider, bool verbose = false) =>
        (await client.GetJsonAsync("/v1/ops/llm/providers/health" + (verbose ? "?verbose=true" : ""))).GetProperty("providers").EnumerateArray()
            .Single(p => p.GetProperty("provider").GetString() == provider);

    public static string Text(IEnumerable<SseItem<string>> items) =>
        string.Concat(items.Where(i => i.EventType == "token").Select(i => JsonDocument.Parse(i.Data).RootElement.GetProperty("text").GetString()));
}
