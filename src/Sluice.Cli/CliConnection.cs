using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using Sluice.Client;

namespace Sluice.Cli;

/// <summary>Where Sluice is and which key to use (<c>--url</c>/<c>SLUICE_URL</c>, <c>--key</c>/<c>SLUICE_KEY</c>/admin.key), and the CLI's one-line errors.</summary>
internal sealed class CliConnection(Option<string> url, Option<string?> key, Option<string> dataDir)
{
    public const string NoKey = "sluice: no key: pass --key, set SLUICE_KEY, or run where --data-dir/admin.key exists.";

    public Uri BaseAddress(ParseResult result) => new(result.GetValue(url)!);

    public HttpClient? CreateHttpClient(ParseResult result, HttpMessageHandler? handler = null)
    {
        var secret = result.GetValue(key) ?? Environment.GetEnvironmentVariable("SLUICE_KEY");
        var keyFile = Path.Combine(result.GetValue(dataDir)!, "admin.key");
        if (secret is null && File.Exists(keyFile))
        {
            secret = File.ReadAllText(keyFile).Trim();
        }

        if (secret is null)
        {
            handler?.Dispose();
            return null;
        }

        // Streams stay open for as long as a generation runs: no overall timeout (the client has its own connect timeout).
        var client = new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: true) { BaseAddress = BaseAddress(result), Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return client;
    }

    public static string Unreachable(Uri? address, HttpRequestException ex) => $"sluice: cannot reach Sluice at {address}: {ex.Message}";

    public static string OneLine(SluiceApiException ex) => "sluice: " + ex.Message;

    /// <summary>Runs a command's work and turns the failures a user can meet into one line and an exit code.</summary>
    public static async Task<int> GuardAsync(Uri? address, TextWriter stderr, Func<Task<int>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await work();
        }
        catch (SluiceApiException ex)
        {
            await stderr.WriteLineAsync(OneLine(ex));
            return 1;
        }
        catch (SluiceStreamException ex)
        {
            await stderr.WriteLineAsync("sluice: " + ex.Message);
            return 1;
        }
        catch (HttpRequestException ex)
        {
            await stderr.WriteLineAsync(Unreachable(address, ex));
            return 3;
        }
        catch (BenchException ex)
        {
            await stderr.WriteLineAsync("sluice: " + ex.Message);
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await stderr.WriteLineAsync("sluice: interrupted");
            return 130;
        }
    }

    /// <summary>Load goes to this machine only unless the caller says otherwise: a mistyped URL must not load someone's production.</summary>
    public static bool IsLoopback(Uri address) =>
        address.IsLoopback || (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
