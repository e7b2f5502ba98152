using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>The deployment pieces in deploy/, proven against the real tools: promtool, nginx.</summary>
public sealed partial class DeployTests
{
    private static readonly string Root = FindRoot();

    /// <summary>API.md section 8's metric names (exporters add _bucket, _sum, _count to histograms).</summary>
    private static readonly string[] ContractMetrics =
    [
        "sluice_sse_connections_open", "sluice_sse_reconnects_total", "sluice_sse_resume_failures_total",
        "sluice_sse_events_sent_total", "sluice_sse_connection_duration_seconds", "sluice_sse_last_event_age_seconds",
        "sluice_generation_ttft_seconds", "sluice_generation_duration_seconds", "sluice_generations_total",
        "sluice_provider_up", "sluice_provider_circuit_state", "sluice_http_requests_total",
    ];

    [Fact]
    public async Task PrometheusRules_PassPromtoolCheckAndUnitTests()
    {
        var check = await RunAsync("promtool", Root, "check", "rules", "deploy/prometheus/sluice-rules.yml");
        var test = await RunAsync("promtool", Root, "test", "rules", "tests/prometheus/sluice-rules.test.yml");

        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("SUCCESS: 9 rules found", check.Output, StringComparison.Ordinal);
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("SUCCESS", test.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void AlertRulesAndDashboard_UseOnlyContractMetricNames()
    {
        var rules = File.ReadAllText(Path.Combine(Root, "deploy/prometheus/sluice-rules.yml"));
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "deploy/grafana/sluice-dashboard.json")));
        var exprs = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();

        var used = MetricName().Matches(rules + "\n" + string.Join("\n", exprs)).Select(m => m.Value)
            .Select(n => Regex.Replace(n, "_(bucket|sum|count)$", "")).Distinct().ToList();

        Assert.NotEmpty(exprs);
        Assert.All(used, name => Assert.Contains(name, ContractMetrics));
    }

    [Fact]
    public async Task Nginx_FirstEventArrivesBeforeTheStreamEnds_AndLastEventIdReachesSluice()
    {
        await using var sluice = await SluiceTestServer.StartAsync("memory");
        await using var nginx = await NginxProxy.StartAsync(sluice.BaseAddress, keepDefaultReadTimeout: false);
        using var direct = sluice.CreateClient();
        using var proxied = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        proxied.DefaultRequestHeaders.Authorization = new("Bearer", SluiceTestServer.AdminKey);
        await direct.PublishAsync("via-nginx", "token", new { n = 1 });

        await using var sse = await SseClient.ConnectAsync(proxied, "/v1/streams/via-nginx/events");
        var first = await sse.NextAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await direct.PublishAsync("via-nginx", "token", new { n = 2 });
        var live = await sse.NextAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await direct.PublishAsync("via-nginx", "token", new { n = 3 });
        await direct.PublishAsync("via-nginx", "done");
        await using var resumed = await SseClient.ConnectAsync(proxied, "/v1/streams/via-nginx/events", lastEventId: "2");
        var afterResume = await resumed.ReadAllAsync().Select(e => e.EventId).ToListAsync();

        Assert.Equal("1", first!.Value.EventId);
        Assert.Equal("2", live!.Value.EventId);
        Assert.Equal(["3", "4"], afterResume);
        Assert.Equal("text/event-stream; charset=utf-8", sse.Response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task Nginx_WithItsDefault60sReadTimeout_StreamStaysOpenThanksToHeartbeats()
    {
        await using var sluice = await SluiceTestServer.StartAsync("memory");
        await using var nginx = await NginxProxy.StartAsync(sluice.BaseAddress, keepDefaultReadTimeout: true);
        using var direct = sluice.CreateClient();
        using var proxied = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
        proxied.DefaultRequestHeaders.Authorization = new("Bearer", SluiceTestServer.AdminKey);
        await direct.PublishAsync("quiet", "token", new { n = 1 });
        await using var sse = await SseClient.ConnectAsync(proxied, "/v1/streams/quiet/events");
        Assert.Equal("1", (await sse.NextAsync())!.Value.EventId);

        // 70 s of no events: nginx (default proxy_read_timeout 60 s) would cut the stream without heartbeats.
        var heartbeats = 0;
        var quietUntil = DateTime.UtcNow.AddSeconds(70);
        while (DateTime.UtcNow < quietUntil)
        {
            var item = await sse.NextAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotNull(item);
            Assert.Equal("heartbeat", item.Value.EventType);
            heartbeats++;
        }

        await direct.PublishAsync("quiet", "token", new { n = 2 });
        var after = await sse.NextAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(heartbeats >= 4);
        Assert.Equal("2", after!.Value.EventId);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Sluice.slnx not found above the test binaries.");
    }

    [GeneratedRegex(@"\bsluice_[a-z_]+")]
    private static partial Regex MetricName();

    /// <summary>The upstream's server lines of the cluster site (one block of consecutive lines).</summary>
    [GeneratedRegex(@"(?m)(^\s*server 127\.0\.0\.1:\d+[^\n]*\n?)+")]
    private static partial Regex ClusterServers();

    /// <summary>A real nginx with a site from deploy/nginx/, pointed at the test's servers; stopped by its PID.</summary>
    internal sealed class NginxProxy : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _dir;

        private NginxProxy(Process process, string dir, Uri baseAddress)
        {
            _process = process;
            _dir = dir;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        public static async Task<NginxProxy> StartAsync(Uri upstream, bool keepDefaultReadTimeout)
        {
            var port = FreePort();
            var site = await File.ReadAllTextAsync(Path.Combine(Root, "deploy/nginx/sluice.conf"));
            site = site.Replace("server 127.0.0.1:8080;", $"server {upstream.Host}:{upstream.Port};", StringComparison.Ordinal)
                       .Replace("listen 80;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal);
            if (keepDefaultReadTimeout)
            {
                site = ReadTimeout().Replace(site, "");
            }

            return await StartSiteAsync(site, port);
        }

        /// <summary>deploy/nginx/sluice-cluster.conf with its upstream's servers replaced by <paramref name="nodes"/>.</summary>
        public static async Task<NginxProxy> StartClusterAsync(IReadOnlyList<Uri> nodes)
        {
            var port = FreePort();
            var site = await File.ReadAllTextAsync(Path.Combine(Root, "deploy/nginx/sluice-cluster.conf"));
            var servers = string.Join("\n", nodes.Select(n => $"    server {n.Host}:{n.Port} max_fails=1 fail_timeout=5s;")) + "\n";
            site = ClusterServers().Replace(site, servers, 1).Replace("listen 80;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal);
            return await StartSiteAsync(site, port);
        }

        private static async Task<NginxProxy> StartSiteAsync(string site, int port)
        {
            var dir = Directory.CreateTempSubdirectory("sluice-nginx-").FullName;

            await File.WriteAllTextAsync(Path.Combine(dir, "sluice.conf"), site);
            await File.WriteAllTextAsync(Path.Combine(dir, "nginx.conf"), $$"""
                worker_processes 1;
                pid {{dir}}/nginx.pid;
                error_log {{dir}}/error.log warn;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    client_body_temp_path {{dir}}/body;
                    proxy_temp_path {{dir}}/proxy;
                    fastcgi_temp_path {{dir}}/fastcgi;
                    uwsgi_temp_path {{dir}}/uwsgi;
                    scgi_temp_path {{dir}}/scgi;
                    include {{dir}}/sluice.conf;
                }
                """);
            var info = new ProcessStartInfo("/usr/sbin/nginx") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "-p", dir, "-c", Path.Combine(dir, "nginx.conf"), "-g", "daemon off;" })
            {
                info.ArgumentList.Add(a);
            }

            var process = Process.Start(info)!;
            var baseAddress = new Uri($"http://127.0.0.1:{port}");
            using var probe = new HttpClient();
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    using var response = await probe.GetAsync(new Uri(baseAddress, "/health/live"));
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return new NginxProxy(process, dir, baseAddress);
                    }
                }
                catch (HttpRequestException)
                {
                }

                if (process.HasExited)
                {
                    throw new InvalidOperationException("nginx exited: " + await process.StandardError.ReadToEndAsync());
                }

                await Task.Delay(100);
            }

            throw new InvalidOperationException("nginx did not answer within 10 s");
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    [GeneratedRegex(@"^\s*proxy_(read|send)_timeout [^;]+;\s*$", RegexOptions.Multiline)]
    private static partial Regex ReadTimeout();
}
