using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class AuthTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private SluiceTestServer _server = null!;
    private HttpClient _admin = null!;
    private readonly List<string> _secrets = [SluiceTestServer.AdminKey];

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync(configure: b => b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(_time)));
        _admin = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        // No key or token ever appears in the server's output, at any level.
        var output = string.Join("\n", _server.Logs.Lines);
        Assert.NotEmpty(_server.Logs.Lines);
        foreach (var secret in _secrets)
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }

        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<HttpClient> ClientAsync(string tenant, params string[] roles)
    {
        var (key, _) = await _admin.CreateKeyAsync(tenant, roles);
        _secrets.Add(key);
        return _server.CreateClient(key);
    }

    private async Task<string> TokenAsync(HttpClient client, string stream, int? ttl = null)
    {
        using var response = ttl is null
            ? await client.PostAsync($"/v1/streams/{stream}/tokens", null)
            : await client.PostAsJsonAsync($"/v1/streams/{stream}/tokens", new { ttl_seconds = ttl });
        await Api.EnsureAsync(response, 200);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("access_token").GetString()!;
        _secrets.Add(token);
        Assert.Equal($"{_server.BaseAddress.ToString().TrimEnd('/')}/v1/streams/{stream}/events?access_token={Uri.EscapeDataString(token)}", body.GetProperty("events_url").GetString());
        return token;
    }

    [Fact]
    public async Task Request_WithoutKey_Answers401Problem()
    {
        using var anonymous = _server.CreateClient(key: null);

        using var response = await anonymous.GetAsync("/v1/streams/x");

        Assert.Equal("unauthorized", (await response.ProblemAsync(401)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Request_WithUnknownKey_Answers401()
    {
        using var client = _server.CreateClient("sk_not_a_key");

        using var response = await client.GetAsync("/v1/streams/x");

        await response.ProblemAsync(401);
    }

    [Fact]
    public async Task Publish_WithSubscribeOnlyKey_Answers403()
    {
        using var reader = await ClientAsync("acme", "subscribe");

        using var response = await reader.PostJsonAsync("/v1/streams/s/events", """{"type":"token","data":{}}""");

        Assert.Equal("forbidden", (await response.ProblemAsync(403)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AdminEndpoint_WithPublishKey_Answers403()
    {
        using var publisher = await ClientAsync("acme", "publish");

        using var response = await publisher.GetAsync("/v1/admin/keys");

        await response.ProblemAsync(403);
    }

    [Fact]
    public async Task OtherTenantsStream_AnswersExactlyLikeAMissingOne()
    {
        using var acme = await ClientAsync("acme", "publish", "subscribe");
        using var globex = await ClientAsync("globex", "publish", "subscribe");
        await acme.PublishAsync("secret-plan", "token", new { text = "acme only" });

        using var foreignMeta = await globex.GetAsync("/v1/streams/secret-plan");
        using var missingMeta = await globex.GetAsync("/v1/streams/never-existed");
        using var foreignSse = await globex.GetAsync("/v1/streams/secret-plan/events");
        using var foreignToken = await globex.PostAsync("/v1/streams/secret-plan/tokens", null);

        var a = await foreignMeta.ProblemAsync(404);
        var b = await missingMeta.ProblemAsync(404);
        Assert.Equal(b.GetProperty("code").GetString(), a.GetProperty("code").GetString());
        Assert.Equal(b.GetProperty("detail").GetString(), a.GetProperty("detail").GetString());
        await foreignSse.ProblemAsync(404);
        await foreignToken.ProblemAsync(404);
        // The same stream id in another tenant is another stream.
        var ids = await globex.PublishAsync("secret-plan", "token");
        Assert.Equal(new long[] { 1 }, ids);
    }

    [Fact]
    public async Task TenantHeader_ForeignTenantOnTenantKey_Answers403()
    {
        using var acme = await ClientAsync("acme", "subscribe");
        acme.DefaultRequestHeaders.Add("X-Tenant-Key", "globex");

        using var response = await acme.GetAsync("/v1/streams/x");

        Assert.Equal("tenant_mismatch", (await response.ProblemAsync(403)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task TenantHeader_OnAdminKey_SelectsTheTenant()
    {
        using var acme = await ClientAsync("acme", "publish");
        await acme.PublishAsync("shared", "token", new { text = "x" });
        _admin.DefaultRequestHeaders.Add("X-Tenant-Key", "acme");

        var info = await _admin.GetJsonAsync("/v1/streams/shared");

        Assert.Equal(1, info.GetProperty("last_id").GetInt64());
    }

    [Fact]
    public async Task AccessToken_ReadsItsStreamWithoutAHeader()
    {
        using var acme = await ClientAsync("acme", "publish", "subscribe");
        await acme.PublishAsync("browser", "token", new { text = "hi" });
        await acme.PublishAsync("browser", "done");
        var token = await TokenAsync(acme, "browser");
        using var anonymous = _server.CreateClient(key: null);

        await using var sse = await SseClient.ConnectAsync(anonymous, $"/v1/streams/browser/events?access_token={Uri.EscapeDataString(token)}");

        Assert.Equal(["1", "2"], await sse.ReadAllAsync().Select(e => e.EventId).ToListAsync());
    }

    [Fact]
    public async Task AccessToken_TamperedExpiredForeignOrMisused_IsRejected()
    {
        using var acme = await ClientAsync("acme", "publish", "subscribe");
        await acme.PublishAsync("a", "token");
        await acme.PublishAsync("b", "token");
        var token = await TokenAsync(acme, "a", ttl: 60);
        using var anonymous = _server.CreateClient(key: null);
        var tampered = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];
        var payloadSwapped = (await TokenAsync(acme, "b")).Split('.')[0] + "." + token.Split('.')[1];

        using var tamperedResponse = await anonymous.GetAsync($"/v1/streams/a/events?access_token={Uri.EscapeDataString(tampered)}");
        using var swappedResponse = await anonymous.GetAsync($"/v1/streams/b/events?access_token={Uri.EscapeDataString(payloadSwapped)}");
        using var otherStream = await anonymous.GetAsync($"/v1/streams/b/events?access_token={Uri.EscapeDataString(token)}");
        using var publishWithToken = await anonymous.PostAsync($"/v1/streams/a/events?access_token={Uri.EscapeDataString(token)}",
            new StringContent("""{"type":"token","data":{}}""", System.Text.Encoding.UTF8, "application/json"));
        _time.Advance(TimeSpan.FromSeconds(61));
        using var expired = await anonymous.GetAsync($"/v1/streams/a/events?access_token={Uri.EscapeDataString(token)}");

        await tamperedResponse.ProblemAsync(401);
        await swappedResponse.ProblemAsync(401);
        await otherStream.ProblemAsync(403);
        await publishWithToken.ProblemAsync(403);
        await expired.ProblemAsync(401);
    }

    [Fact]
    public async Task AccessToken_OfAnotherTenantsKey_CannotReadThisTenantsStream()
    {
        using var acme = await ClientAsync("acme", "publish", "subscribe");
        using var globex = await ClientAsync("globex", "publish", "subscribe");
        await acme.PublishAsync("same-name", "token", new { owner = "acme" });
        await globex.PublishAsync("same-name", "token", new { owner = "globex" });
        await globex.PublishAsync("same-name", "done");
        var globexToken = await TokenAsync(globex, "same-name");
        using var anonymous = _server.CreateClient(key: null);

        await using var sse = await SseClient.ConnectAsync(anonymous, $"/v1/streams/same-name/events?access_token={Uri.EscapeDataString(globexToken)}");
        var items = await sse.ReadAllAsync().ToListAsync();

        Assert.All(items.Where(i => i.EventType == "token"), i => Assert.Contains("globex", i.Data, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TokenRequest_WithTtlOutOfRange_Answers400()
    {
        using var acme = await ClientAsync("acme", "publish", "subscribe");
        await acme.PublishAsync("ttl", "token");

        using var tooLong = await acme.PostAsJsonAsync("/v1/streams/ttl/tokens", new { ttl_seconds = 86401 });
        using var zero = await acme.PostAsJsonAsync("/v1/streams/ttl/tokens", new { ttl_seconds = 0 });

        await tooLong.ProblemAsync(400);
        await zero.ProblemAsync(400);
    }

    [Fact]
    public async Task RevokedKey_StopsWorkingAtOnce_WithItsTokens()
    {
        var (key, id) = await _admin.CreateKeyAsync("acme", "publish", "subscribe");
        _secrets.Add(key);
        using var client = _server.CreateClient(key);
        await client.PublishAsync("r", "token");
        var token = await TokenAsync(client, "r");

        using var revoke = await _admin.DeleteAsync($"/v1/admin/keys/{id}");
        using var afterRevoke = await client.GetAsync("/v1/streams/r");
        using var anonymous = _server.CreateClient(key: null);
        using var tokenAfterRevoke = await anonymous.GetAsync($"/v1/streams/r/events?access_token={Uri.EscapeDataString(token)}");
        using var again = await _admin.DeleteAsync($"/v1/admin/keys/{id}");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await afterRevoke.ProblemAsync(401);
        await tokenAfterRevoke.ProblemAsync(401);
        await again.ProblemAsync(404);
    }

    [Fact]
    public async Task JsonBodies_AreReadWhateverTheirContentType_AsCurlDashDSendsThem()
    {
        // curl -d sends application/x-www-form-urlencoded.
        using var key = await _admin.PostAsync("/v1/admin/keys", new StringContent("""{"tenant":"acme","roles":["publish","subscribe"],"name":"curl"}""", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        var created = await key.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        _secrets.Add(created.GetProperty("key").GetString()!);
        using var client = _server.CreateClient(created.GetProperty("key").GetString());
        await client.PublishAsync("curl-form", "token", new { text = "x" });
        using var token = await client.PostAsync("/v1/streams/curl-form/tokens", new StringContent("""{"ttl_seconds":60}""", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
        using var broken = await _admin.PostAsync("/v1/admin/keys", new StringContent("tenant=acme", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal("invalid_json", (await broken.ProblemAsync(400)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Keys_CreateListNeverEchoesSecrets()
    {
        var (key, id) = await _admin.CreateKeyAsync("acme", "subscribe", "publish");
        _secrets.Add(key);

        var list = await _admin.GetJsonAsync("/v1/admin/keys?tenant=acme");
        var json = list.ToString();

        var entry = list.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetString() == id);
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("key").ValueKind);
        Assert.Equal(["subscribe", "publish"], entry.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.DoesNotContain(key, json, StringComparison.Ordinal);
        Assert.DoesNotContain(SluiceTestServer.AdminKey, json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"tenant":"acme","roles":[]}""")]
    [InlineData("""{"tenant":"acme","roles":["root"]}""")]
    [InlineData("""{"tenant":"bad tenant","roles":["subscribe"]}""")]
    [InlineData("""{"roles":["subscribe"]}""")]
    [InlineData("""{"tenant":"acme","roles":["subscribe"],"expires_at":"2001-01-01T00:00:00Z"}""")]
    [InlineData("nope")]
    public async Task Keys_CreateWithBadInput_Answers400(string body)
    {
        using var response = await _admin.PostJsonAsync("/v1/admin/keys", body);

        await response.ProblemAsync(400);
    }

    [Fact]
    public async Task Key_WithExpiry_StopsWorkingWhenItExpires()
    {
        using var create = await _admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = "acme", roles = new[] { "publish" }, expires_at = _time.GetUtcNow().AddMinutes(5) });
        var key = (await create.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        _secrets.Add(key);
        using var client = _server.CreateClient(key);
        await client.PublishAsync("exp", "token");

        _time.Advance(TimeSpan.FromMinutes(6));
        using var response = await client.PostJsonAsync("/v1/streams/exp/events", """{"type":"token","data":{}}""");

        await response.ProblemAsync(401);
    }
}
