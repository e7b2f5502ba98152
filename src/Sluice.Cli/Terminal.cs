using Spectre.Console;

namespace Sluice.Cli;

/// <summary>
/// Spectre.Console on one of the CLI's writers: colours, progress and live output only on a real terminal (and not
/// with NO_COLOR); redirected or captured output gets plain text that scripts can read, never wrapped.
/// </summary>
internal static class Terminal
{
    public static bool IsTerminal(TextWriter writer) =>
        (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected) || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);

    public static IAnsiConsole For(TextWriter writer)
    {
        var terminal = IsTerminal(writer);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 10_000;
        }

        return console;
    }

    /// <summary>The colour of an event type in <c>tail</c>.</summary>
    public static string Colour(string type) => type switch
    {
        "token" => "green",
        "done" => "blue",
        "error" => "red",
        "safe_response" => "yellow",
        "tool" or "citation" => "magenta",
        _ => "cyan",
    };
}
