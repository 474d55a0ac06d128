namespace HeaderFraming;

/// <summary>Reads <see cref="HeaderField"/>s of received frames.</summary>
public static class HeaderFieldExtensions
{
    /// <summary>Reads a field of the frame's header, wherever the header lies (one span or split across segments).</summary>
    /// <param name="frame">A frame, valid until the next read.</param>
    /// <param name="field">The field, e.g. <see cref="Protocols.Http2.StreamId"/>.</param>
    /// <returns>The field's value.</returns>
    /// <exception cref="System.ArgumentException">The frame's header is shorter than the field's <see cref="HeaderField.End"/>.</exception>
    public static ulong Read(this in Frame frame, HeaderField field)
        => frame.IsContiguous ? field.Read(frame.HeaderSpan) : field.Read(frame.Header);
}
