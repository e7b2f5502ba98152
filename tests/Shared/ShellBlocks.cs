using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Sluice.Testing;

/// <summary>The <c>sh</c> blocks of the repository's Markdown, run with bash as a reader would paste them.</summary>
public static partial class ShellBlocks
{
    /// <summary>The repository root (the folder of <c>Sluice.slnx</c>), found from the test's output folder.</summary>
    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir!.FullName;
    }

    public static List<string> In(string markdown) => [.. Block().Matches(markdown).Select(m => m.Groups["body"].Value)];

    /// <summary>Runs <paramref name="script"/> with <c>bash -eu</c>; its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string script, IDictionary<string, string> environment, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        info.ArgumentList.Add("-eu");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"```sh\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex Block();
}
