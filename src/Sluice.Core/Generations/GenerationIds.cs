using System.Security.Cryptography;

namespace Sluice.Generations;

/// <summary><c>gen_</c> + 24 lowercase base32 characters (120 random bits): unguessable, and valid in every id charset.</summary>
internal static class GenerationIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string New()
    {
        Span<byte> bytes = stackalloc byte[24];
        RandomNumberGenerator.Fill(bytes);
        return string.Create(28, bytes.ToArray(), static (chars, b) =>
        {
            "gen_".CopyTo(chars);
            for (var i = 0; i < 24; i++)
            {
                chars[4 + i] = Alphabet[b[i] & 31];
            }
        });
    }

    public static bool IsValid(ReadOnlySpan<char> id)
    {
        if (id.Length != 28 || !id.StartsWith("gen_"))
        {
            return false;
        }

        foreach (var c in id[4..])
        {
            if (!(char.IsAsciiLetterLower(c) || c is >= '2' and <= '7'))
            {
                return false;
            }
        }

        return true;
    }
}
