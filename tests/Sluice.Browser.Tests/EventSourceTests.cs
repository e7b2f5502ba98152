using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Sluice.Fanout;
using Sluice.Testing;

namespace Sluice.Browser.Tests;

/// <summary>A native EventSource in Debian's Chromium, on a page of another origin, reading Sluice.</summary>
public sealed class EventSourceTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private WebApplication _pageHost = null!;
    private Uri _pageOrigin = null!;

    public async Task InitializeAsync()
    {
        // The page's own origin: a second server on another port, so every request to Sluice is cross-origin.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _pageHost = builder.Build();
        _pageHost.MapGet("/", () => Results.Content(Page, "text/html; charset=utf-8"));
        await _pageHost.StartAsync();
        _pageOrigin = new Uri(_pageHost.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync() => await _pageHost.DisposeAsync();

    [Fact]
    public async Task EventSource_WithAccessToken_ReadsResumesAfterServerEndsAndStopsOn204()
    {
        Assert.True(File.Exists(Chromium), "Debian's chromium is required: apt-get install chromium");
        var origin = _pageOrigin.GetLeftPart(UriPartial.Authority);
        await using var sluice = await SluiceTestServer.StartAsync("sqlite", new Dictionary<string, string>
        {
            ["Sluice:Cors:Origins:0"] = origin,
            ["Sluice:Retry"] = "00:00:00.200",
        });
        using var api = sluice.CreateClient();
        for (var i = 1; i <= 3; i++)
        {
            await api.PublishAsync("browser", "token", new { text = $"t{i}" });
        }

        using var tokenResponse = await api.PostAsJsonAsync("/v1/streams/browser/tokens", new { ttl_seconds = 600 });
        var eventsUrl = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("events_url").GetString()!;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(_pageOrigin.ToString());
        await page.EvaluateAsync("url => start(url)", eventsUrl);
        await page.WaitForFunctionAsync("() => window.received.length === 3");

        // The server ends every open response (as on drain or shutdown); the browser comes back by itself
        // with Last-Event-ID and must get 4 and 5 exactly once.
        var ended = sluice.App.Services.GetRequiredService<StreamHub>().ReconnectAll(TimeSpan.FromMilliseconds(200));
        await api.PublishAsync("browser", "token", new { text = "t4" });
        await api.PublishAsync("browser", "token", new { text = "t5" });
        await page.WaitForFunctionAsync("() => window.received.length === 5");
        await api.PublishAsync("browser", "done", new { finish_reason = "stop" });

        // After done the response ends; the browser reconnects with Last-Event-ID 6, gets 204 and stops for good.
        await page.WaitForFunctionAsync("() => window.source.readyState === 2");
        var received = await page.EvaluateAsync<string[]>("() => window.received");
        var opens = await page.EvaluateAsync<int>("() => window.opens");

        Assert.Equal(1, ended);
        Assert.Equal(["1 token t1", "2 token t2", "3 token t3", "4 token t4", "5 token t5", "6 done - stop"], received);
        // The first response and the resumed one; the third request got 204, which opens nothing and closes the source.
        Assert.Equal(2, opens);
    }

    private const string Page = """
        <!doctype html>
        <meta charset="utf-8">
        <title>EventSource</title>
        <script>
          window.received = [];
          window.opens = 0;
          function start(url) {
            const source = new EventSource(url);
            window.source = source;
            source.onopen = () => { window.opens++; };
            source.addEventListener('token', e => window.received.push(`${e.lastEventId} token ${JSON.parse(e.data).text}`));
            source.addEventListener('done', e => window.received.push(`${e.lastEventId} done - ${JSON.parse(e.data).finish_reason}`));
          }
        </script>
        """;
}
