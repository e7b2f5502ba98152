using Microsoft.Extensions.Logging;

namespace Sluice.Storage;

/// <summary>
/// <c>Sluice:DataDir</c> holds the token signing secret and the key hashes: whoever reads it can forge an access
/// token for any tenant. It is made <c>0700</c> and every file in it <c>0600</c>, also when it existed before
/// with wider modes (each widening found is fixed and logged once at start). Only Sluice's own files are touched:
/// the directory may be one the operator shares with other things.
/// </summary>
internal static partial class DataDirectory
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The files Sluice keeps in the directory.</summary>
    public static readonly string[] Files = ["sluice.db", "sluice.db-wal", "sluice.db-shm", "admin.key"];

    /// <summary>Creates the directory owner-only, or narrows it and Sluice's files in it to the owner.</summary>
    public static void Secure(string directory, ILogger logger)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            return;
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & GroupOrOther) != 0)
        {
            File.SetUnixFileMode(directory, mode & ~GroupOrOther);
            LogNarrowed(logger, Path.GetFullPath(directory), Octal(mode), Octal(mode & ~GroupOrOther));
        }

        foreach (var file in Files.Select(f => Path.Combine(directory, f)).Where(File.Exists))
        {
            var fileMode = File.GetUnixFileMode(file);
            if ((fileMode & GroupOrOther) != 0)
            {
                File.SetUnixFileMode(file, fileMode & ~GroupOrOther);
                LogNarrowed(logger, Path.GetFullPath(file), Octal(fileMode), Octal(fileMode & ~GroupOrOther));
            }
        }
    }

    /// <summary>Creates <paramref name="path"/> empty and <c>0600</c> when it does not exist (SQLite's WAL and shared-memory files then take its mode).</summary>
    public static void CreateOwnerOnlyFile(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }

        using var _ = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile });
    }

    /// <summary>Writes a new owner-only file (never readable by others, not even between create and chmod).</summary>
    public static async Task WriteOwnerOnlyAsync(string path, string text, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        await using var stream = new FileStream(path, options);
        await using var writer = new StreamWriter(stream);
        await writer.WriteAsync(text.AsMemory(), cancellationToken);
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "{Path} was open to other users ({Before}): narrowed to {After}; the data directory holds the token signing secret")]
    private static partial void LogNarrowed(ILogger logger, string path, string before, string after);
}
