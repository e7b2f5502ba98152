namespace Sluice.Streams;

/// <summary>Identifies one stream: stream ids are scoped to a tenant, so two tenants never share a stream.</summary>
internal readonly record struct StreamKey(string Tenant, string StreamId)
{
    public override string ToString() => Tenant + "/" + StreamId;
}
