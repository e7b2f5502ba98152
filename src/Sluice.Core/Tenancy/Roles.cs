namespace Sluice.Tenancy;

/// <summary>What a key may do (API.md section 1). <see cref="Admin"/> implies every other role, on any tenant.</summary>
[Flags]
internal enum Roles
{
    None = 0,
    Subscribe = 1,
    Publish = 2,
    Generate = 4,
    Admin = 8,
}

internal static class RoleNames
{
    public const string Subscribe = "subscribe";
    public const string Publish = "publish";
    public const string Generate = "generate";
    public const string Admin = "admin";

    public static bool TryParse(string name, out Roles role)
    {
        role = name switch
        {
            Subscribe => Roles.Subscribe,
            Publish => Roles.Publish,
            Generate => Roles.Generate,
            Admin => Roles.Admin,
            _ => Roles.None,
        };
        return role != Roles.None;
    }

    public static string[] ToNames(Roles roles)
    {
        var names = new List<string>(4);
        if (roles.HasFlag(Roles.Subscribe)) names.Add(Subscribe);
        if (roles.HasFlag(Roles.Publish)) names.Add(Publish);
        if (roles.HasFlag(Roles.Generate)) names.Add(Generate);
        if (roles.HasFlag(Roles.Admin)) names.Add(Admin);
        return [.. names];
    }

    public static bool Grants(Roles held, Roles required) => held.HasFlag(Roles.Admin) || (held & required) == required;
}
