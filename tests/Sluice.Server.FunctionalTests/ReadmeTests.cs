using System.Diagnostics;
using System.Text.RegularExpressions;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// The README's quickstart blocks run as written against a live Sluice whose first start generated
/// <c>data/admin.key</c>, from the directory that holds <c>data/</c>. Only the address is moved: a prelude
/// points <c>localhost:8080</c> at the test's port, and ends a follow of an open stream after 2 s (where the
/// README says "Ctrl+C").
/// </summary>
public sealed class ReadmeTests
{
    private const string Prelude = """
        curl() {
          local args=("${@//localhost:8080/$SLUICE_HOSTPORT}") limit=30
          [[ " ${args[*]} " == *" -N "*"/v1/streams/"*"/events"* ]] && limit=2
          command curl --max-time "$limit" "${args[@]}" || { local rc=$?; [ "$rc" -eq 28 ] || return "$rc"; }
        }

        """;

    [Fact]
    public async Task CurlSession_RunsAsWritten()
    {
        var output = await RunSectionAsync("## A curl session");

        Assert.Contains("""{"ids":[1,2,3]}""", output, StringComparison.Ordinal);
        // The subscribe replays 1 to 3; the resume after 2 only 3.
        Assert.Single(Regex.Matches(output, "^id: 1$", RegexOptions.Multiline));
        Assert.Equal(2, Regex.Matches(output, "^id: 3$", RegexOptions.Multiline).Count);
        Assert.Contains("HTTP/1.1 204 No Content", output, StringComparison.Ordinal);
        Assert.Contains("\"access_token\":\"", output, StringComparison.Ordinal);
        Assert.Contains("\"tenant\":\"acme\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenerationsQuickstart_RunsAsWritten()
    {
        var output = await RunSectionAsync("## Generations: a quickstart");

        Assert.Contains("simulated/default", output, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"succeeded\"", output, StringComparison.Ordinal);
        Assert.Contains("\"finish_reason\":\"cancelled\"", output, StringComparison.Ordinal);
        Assert.Contains("data: [DONE]", output, StringComparison.Ordinal);
        // The resumed read starts after event 7.
        Assert.Contains("\nid: 8\n", output, StringComparison.Ordinal);
        Assert.True(Regex.Matches(output, "event: done").Count >= 3, output);
    }

    [Fact]
    public async Task DotnetRun_KeepsDataUnderTheDirectoryItRanFrom()
    {
        // As the README's first command, from another directory than the project's (the build is the test run's).
        var work = Directory.CreateTempSubdirectory("sluice-run-").FullName;
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--project", Path.Combine(ShellBlocks.Root(), "src", "Sluice.Server"), "--no-build", "-c", "Release", "--", "--urls", "http://127.0.0.1:0" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        try
        {
            // The first start prints where it saved the key, then listens.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            string? line;
            var saved = "";
            while ((line = await process.StandardOutput.ReadLineAsync(timeout.Token)) is not null && !line.Contains("Now listening", StringComparison.Ordinal))
            {
                saved = line.Contains("saved to", StringComparison.Ordinal) ? line.Trim() : saved;
            }

            Assert.Equal("saved to " + Path.Combine(work, "data", "admin.key"), saved);
            Assert.True(File.Exists(Path.Combine(work, "data", "sluice.db")));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static async Task<string> RunSectionAsync(string heading)
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(ShellBlocks.Root(), "README.md"));
        var section = readme[readme.IndexOf(heading, StringComparison.Ordinal)..];
        section = section[..(section.IndexOf("\n## ", heading.Length, StringComparison.Ordinal) is var next and > 0 ? next : section.Length)];
        var blocks = ShellBlocks.In(section);
        Assert.NotEmpty(blocks);

        // The directory a user runs the commands from: data/ in it, as Sluice:DataDir's default puts it.
        var work = Directory.CreateTempSubdirectory("sluice-readme-").FullName;
        await using var server = await SluiceTestServer.StartAsync("sqlite", dataDir: Path.Combine(work, "data"), adminKey: null);
        Assert.True(File.Exists(Path.Combine(work, "data", "admin.key")));

        var output = new System.Text.StringBuilder();
        foreach (var block in blocks)
        {
            var (exitCode, text) = await ShellBlocks.RunAsync(Prelude + block, new Dictionary<string, string> { ["SLUICE_HOSTPORT"] = server.BaseAddress.Authority }, work);
            Assert.True(exitCode == 0, $"block failed with {exitCode}:\n{block}\n--- output ---\n{text}");
            output.Append(text);
        }

        return output.ToString();
    }
}
