namespace Sluice.Fanout;

/// <summary>Why a subscriber's response ended.</summary>
internal enum SessionEnd
{
    /// <summary>A terminal event was sent; the response completes.</summary>
    Terminal,

    /// <summary>The client went away.</summary>
    ClientGone,

    /// <summary>The subscriber fell behind its buffer; the connection is cut and the client resumes from the log.</summary>
    Overflow,

    /// <summary>A write to the client did not finish within <c>Sluice:Limits:WriteTimeout</c>: cut like an overflow.</summary>
    WriteTimeout,

    /// <summary>The server asked the client to come back (shutdown, drain, broadcast-reconnect): <c>retry:</c>, then end.</summary>
    Reconnect,

    /// <summary>The credential the response was opened with was revoked: an id-less <c>error</c>, then end.</summary>
    CredentialRevoked,

    /// <summary>The credential the response was opened with expired (an access token's expiry): as revoked.</summary>
    CredentialExpired,
}
