using System.Globalization;

namespace Sluice.Streams;

/// <summary>Parses a client's resume position (<c>Last-Event-ID</c> or <c>lastEventId</c>).</summary>
internal static class EventPosition
{
    /// <summary>Empty or absent means "from the beginning" (0). Anything but a non-negative decimal integer is malformed.</summary>
    public static bool TryParse(string? value, out long position)
    {
        position = 0;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        if (value.Length > 19)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out position);
    }
}
