namespace HeaderFraming.Codecs;

/// <summary>How the digits of an <see cref="AsciiDecimalCodec"/> header are placed in its fixed width.</summary>
public enum AsciiAlignment
{
    /// <summary>Digits first, padded with spaces on the right: Python's <c>f"{n:&lt;10}"</c>, <c>"22        "</c>. The seed format and the default.</summary>
    Left = 0,

    /// <summary>Padded with spaces on the left, digits last: Python's <c>f"{n:&gt;10}"</c>, <c>"        22"</c>.</summary>
    Right = 1,

    /// <summary>Padded with zeros on the left: Python's <c>f"{n:010}"</c>, <c>"0000000022"</c>.</summary>
    ZeroPadded = 2,
}
