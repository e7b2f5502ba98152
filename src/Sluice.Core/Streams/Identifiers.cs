namespace Sluice.Streams;

/// <summary>
/// Validation of the names that reach SSE fields or store keys. A CR, LF or NUL in an id or a type would
/// inject SSE fields (see mercure's Transport.Dispatch), so every name is checked against a strict charset.
/// </summary>
internal static class Identifiers
{
    /// <summary>API.md section 2: <c>[A-Za-z0-9._:-]{1,128}</c>.</summary>
    public static bool IsValidStreamId(ReadOnlySpan<char> value) => IsNameLike(value, 128, allowColon: true);

    /// <summary>Tenant names: <c>[A-Za-z0-9._-]{1,64}</c>.</summary>
    public static bool IsValidTenant(ReadOnlySpan<char> value) => IsNameLike(value, 64, allowColon: false);

    private static bool IsNameLike(ReadOnlySpan<char> value, int maxLength, bool allowColon)
    {
        if (value.IsEmpty || value.Length > maxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' || (allowColon && c == ':');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
