using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using Sluice.Testing;

namespace Sluice.Browser.Tests;

/// <summary>The dashboard at /dashboard in Debian's Chromium: sign-in, the stream viewer and its health widget, kill-switches, CSP.</summary>
public sealed class DashboardTests
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>Screenshots land here (test artifacts); docs/screenshots holds the copies the README shows.</summary>
    private static readonly string Artifacts = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName;

    [Fact]
    public async Task ServerPausedMidStream_WidgetGoesStaleThenDown_RetryButtonResumesWithNoDuplicateOrMissingToken()
    {
        using var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-dashboard-").FullName, SluiceTestServer.AdminKey,
            "--Sluice:Heartbeat", "00:00:01");
        using var api = sluice.CreateClient();
        var id = (await api.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":120,"tokens_per_second":8}}"""))
            .GetProperty("id").GetString()!;

        await using var session = await BrowserSession.OpenAsync(sluice.BaseAddress, 1280, 900);
        var page = session.Page;
        await page.GotoAsync(new Uri(sluice.BaseAddress, $"/dashboard#key={SluiceTestServer.AdminKey}").ToString());
        await page.Locator($"[data-generation='{id}']").ClickAsync();
        Assert.DoesNotContain("key=", page.Url, StringComparison.Ordinal);
        await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-sluice-output]').dataset.lastEventId) >= 10");

        var health = page.Locator("[data-sluice-health]");
        Assert.Equal("ok", await health.GetAttributeAsync("data-state"));
        var paused = DateTimeOffset.UtcNow;
        sluice.Pause();
        try
        {
            await page.WaitForSelectorAsync("[data-sluice-health][data-state='stale']", new() { Timeout = 60_000 });
            var stale = DateTimeOffset.UtcNow - paused;
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "dashboard-stale.png") });
            await page.WaitForSelectorAsync("[data-sluice-health][data-state='down']", new() { Timeout = 60_000 });
            var down = DateTimeOffset.UtcNow - paused;
            // Its automatic retries (three, each a 10 s connect timeout on the paused node) are spent by now, so
            // nothing reconnects by itself once the node is back: the button does.
            await page.WaitForSelectorAsync("[data-sluice-health][data-retries-spent='true'] [data-sluice-retry]:not([hidden])", new() { Timeout = 60_000 });
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "dashboard-down.png") });
            Assert.InRange(stale.TotalSeconds, 28, 45);
            Assert.InRange(down.TotalSeconds, 58, 80);
            Assert.Equal("DOWN", await page.Locator("#health-label").TextContentAsync());
        }
        finally
        {
            sluice.Resume();
        }

        var before = await page.Locator("[data-sluice-output]").GetAttributeAsync("data-last-event-id");
        Assert.Equal("down", await health.GetAttributeAsync("data-state"));
        await page.Locator("[data-sluice-retry]").ClickAsync();
        await page.WaitForSelectorAsync("[data-sluice-health][data-state='ok']");
        // The run's end (done, or a provider timeout if the pause outlasted the simulated provider's patience):
        // either way the page must show exactly what the store holds.
        await page.WaitForFunctionAsync("() => /: (done|error|safe_response)/.test(document.querySelector('#viewer-status').textContent)", null, new() { Timeout = 60_000 });

        var stored = await api.ReadEventsAsync(id);
        var shown = await page.Locator("[data-sluice-output]").TextContentAsync();
        Assert.Equal(GenerationApi.Text(stored), shown);
        Assert.Equal(stored[^1].EventId, await page.Locator("[data-sluice-output]").GetAttributeAsync("data-last-event-id"));
        Assert.True(long.Parse(before!, CultureInfo.InvariantCulture) < long.Parse(stored[^1].EventId!, CultureInfo.InvariantCulture));
        Assert.Equal("true", await page.Locator("[data-sluice-retry]").EvaluateAsync<string>("b => String(b.hidden)"));
        await session.AssertCleanAsync();
    }

    [Fact]
    public async Task KillSwitchFlippedFromTheDashboard_ShowsInProviderHealthAndTheAuditTrail()
    {
        await using var sluice = await SluiceTestServer.StartAsync("sqlite");
        using var api = sluice.CreateClient();
        await using var session = await BrowserSession.OpenAsync(sluice.BaseAddress, 1280, 1000);
        var page = session.Page;
        await page.GotoAsync(new Uri(sluice.BaseAddress, "/dashboard").ToString());

        // Signed in with the keyboard alone: focus, type, Enter.
        await page.FocusAsync("#key");
        await page.Keyboard.TypeAsync(SluiceTestServer.AdminKey);
        await page.Keyboard.PressAsync("Enter");
        var row = page.Locator("tr[data-provider='simulated']");
        await row.WaitForAsync();
        Assert.Equal(SluiceTestServer.AdminKey, await page.EvaluateAsync<string>("() => sessionStorage.getItem('sluice.key')"));

        await row.Locator("input[name='reason']").FillAsync("incident 42: bad output");
        await row.Locator("input[name='seconds']").FillAsync("300");
        await row.Locator("button[type='submit']").ClickAsync();
        await page.WaitForSelectorAsync("tr[data-provider='simulated'][data-state='killed']");
        await page.Locator("#audit").GetByText("incident 42: bad output").First.WaitForAsync();

        var killed = await api.ProviderHealthAsync("simulated");
        Assert.Equal("killed", killed.GetProperty("state").GetString());
        Assert.Equal("incident 42: bad output", killed.GetProperty("kill_switch").GetProperty("reason").GetString());
        var audit = (await api.GetJsonAsync("/v1/ops/audit?size=50")).GetProperty("data").EnumerateArray().ToList();
        Assert.Contains(audit, a => a.GetProperty("target").GetString()!.Contains("simulated", StringComparison.Ordinal)
            && a.GetProperty("reason").GetString() == "incident 42: bad output");

        await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "dashboard-desktop.png"), FullPage = true });
        await page.Locator("tr[data-provider='simulated'] input[name='reason']").FillAsync("incident 42 over");
        await page.Locator("tr[data-provider='simulated'] button[type='submit']").ClickAsync();
        await page.WaitForSelectorAsync("tr[data-provider='simulated']:not([data-state='killed'])");
        Assert.Equal(JsonValueKind.Null, (await api.ProviderHealthAsync("simulated")).GetProperty("kill_switch").ValueKind);

        // 360 px wide: everything reachable without sideways scrolling of the page.
        await page.SetViewportSizeAsync(360, 800);
        await page.ReloadAsync();
        await page.Locator("tr[data-provider='simulated']").WaitForAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 360"), "the page scrolls sideways at 360 px");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "dashboard-360.png"), FullPage = true });
        await session.AssertCleanAsync();
    }

    [Fact]
    public async Task NewGenerationsAppearWithoutAReload_TheFormStartsOneAndStreamsIt_BroadcastWaitsForAConfirmation()
    {
        await using var sluice = await SluiceTestServer.StartAsync("sqlite");
        using var api = sluice.CreateClient();
        await using var session = await BrowserSession.OpenAsync(sluice.BaseAddress, 1280, 900);
        var page = session.Page;
        await page.GotoAsync(new Uri(sluice.BaseAddress, $"/dashboard#key={SluiceTestServer.AdminKey}").ToString());
        await page.Locator("#app").WaitForAsync();

        // The list polls every second; 5 s leaves room for a loaded machine.
        var id = (await api.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}]}""")).GetProperty("id").GetString()!;
        await page.Locator($"[data-generation='{id}']").WaitForAsync(new() { Timeout = 5000 });

        await page.FillAsync("#prompt", "Tell me about resumable streams.");
        await page.ClickAsync("#start-form button[type='submit']");
        await page.WaitForFunctionAsync("() => /: done/.test(document.querySelector('#viewer-status').textContent)");
        var started = await page.Locator("[data-sluice-output]").GetAttributeAsync("data-generation");
        Assert.NotEqual(id, started);
        Assert.Equal(GenerationApi.Text(await api.ReadEventsAsync(started!)), await page.Locator("[data-sluice-output]").TextContentAsync());
        Assert.Equal("ok", await page.Locator("[data-sluice-health]").GetAttributeAsync("data-state"));

        // Broadcast-reconnect: nothing happens on Cancel; Confirm does it, and the audit trail shows it.
        await page.ClickAsync("#broadcast");
        await page.Locator("#confirm[open]").WaitForAsync();
        await page.Keyboard.PressAsync("Escape");
        await page.Locator("#confirm:not([open])").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("#broadcast");
        await page.ClickAsync("#confirm-ok");
        await page.Locator("#audit").GetByText("sse.broadcast_reconnect").WaitForAsync();
        var audit = (await api.GetJsonAsync("/v1/ops/audit?size=50")).GetProperty("data").EnumerateArray()
            .Count(a => a.GetProperty("action").GetString() == "sse.broadcast_reconnect");
        Assert.Equal(1, audit);
        await session.AssertCleanAsync();
    }

    [Fact]
    public async Task Dashboard_LoadsWithoutACredential_UnderAStrictCsp_AndAWrongKeyIsTold()
    {
        await using var sluice = await SluiceTestServer.StartAsync("memory");
        using var anonymous = new HttpClient { BaseAddress = sluice.BaseAddress };
        using var response = await anonymous.GetAsync("/dashboard");
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);

        await using var session = await BrowserSession.OpenAsync(sluice.BaseAddress, 1280, 800);
        var page = session.Page;
        await page.GotoAsync(new Uri(sluice.BaseAddress, "/dashboard").ToString());
        await page.FillAsync("#key", "sk_not_a_key_0123456789abcdef0123");
        await page.ClickAsync("#sign-in-form button[type='submit']");
        await page.GetByText("That key is not valid").WaitForAsync();
        Assert.True(await page.Locator("#app").IsHiddenAsync());
        await session.AssertCleanAsync();
    }

    /// <summary>
    /// Chromium with one page that records CSP violations (the DOM event and the console's report) and every request
    /// to another origin; disposing it closes the browser and stops Playwright's driver.
    /// </summary>
    private sealed class BrowserSession : IAsyncDisposable
    {
        private readonly IPlaywright _playwright;
        private readonly IBrowser _browser;
        private readonly List<string> _console = [];
        private readonly List<string> _foreign = [];

        private BrowserSession(IPlaywright playwright, IBrowser browser, IPage page)
        {
            _playwright = playwright;
            _browser = browser;
            Page = page;
        }

        public IPage Page { get; }

        public static async Task<BrowserSession> OpenAsync(Uri sluice, int width, int height)
        {
            Assert.True(File.Exists(Chromium), "Debian's chromium is required: apt-get install chromium");
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = width, Height = height } });
            var session = new BrowserSession(playwright, browser, page);
            var origin = sluice.GetLeftPart(UriPartial.Authority);
            page.Console += (_, message) =>
            {
                if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
                {
                    lock (session._console)
                    {
                        session._console.Add(message.Text);
                    }
                }
            };
            page.Request += (_, request) =>
            {
                if (!request.Url.StartsWith(origin, StringComparison.Ordinal) && !request.Url.StartsWith("data:", StringComparison.Ordinal))
                {
                    lock (session._foreign)
                    {
                        session._foreign.Add(request.Url);
                    }
                }
            };
            await page.AddInitScriptAsync("window.__violations = []; document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));");
            return session;
        }

        /// <summary>No CSP violation, in the DOM or the console, and no request to another origin.</summary>
        public async Task AssertCleanAsync()
        {
            var dom = await Page.EvaluateAsync<string[]>("() => window.__violations");
            lock (_console)
            {
                Assert.Empty(dom.Concat(_console));
            }

            lock (_foreign)
            {
                Assert.Empty(_foreign);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
        }
    }
}
