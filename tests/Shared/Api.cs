using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Sluice.Testing;

/// <summary>Small helpers over the HTTP API, so tests read as the contract.</summary>
public static class Api
{
    public static async Task<long[]> PublishAsync(this HttpClient client, string stream, string type, object? data = null, CancellationToken ct = default)
    {
        using var response = await client.PostAsJsonAsync($"/v1/streams/{stream}/events", new { type, data = data ?? new { } }, ct);
        await EnsureAsync(response, 201);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public static async Task<(string Key, string Id)> CreateKeyAsync(this HttpClient admin, string tenant, params string[] roles)
    {
        using var response = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant, roles });
        await EnsureAsync(response, 201);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("key").GetString()!, body.GetProperty("id").GetString()!);
    }

    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(status, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("code").GetString()));
        Assert.DoesNotContain("   at ", body.ToString(), StringComparison.Ordinal);
        return body;
    }

    public static async Task EnsureAsync(HttpResponseMessage response, int status)
    {
        if ((int)response.StatusCode != status)
        {
            throw new Xunit.Sdk.XunitException($"Expected {status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    public static async Task<JsonElement> GetJsonAsync(this HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        await EnsureAsync(response, 200);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
