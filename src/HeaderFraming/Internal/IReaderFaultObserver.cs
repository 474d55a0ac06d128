using System;

namespace HeaderFraming.Internal;

/// <summary>The owner of a <see cref="FrameReader"/> (a connection): told once when the reader latches its fault (a
/// malformed, too large or truncated frame, a timeout), and asked, at a clean end of the stream, whether that end was in
/// fact a transport failure to report after the last frame. So the connection's read paths need no wrapper of their own.</summary>
internal interface IReaderFaultObserver
{
    void OnReaderFault(Exception exception);

    /// <summary>The error to throw instead of <see cref="FrameReadResult.Completed"/>, or <see langword="null"/>.</summary>
    Exception? EndOfStreamFault();
}
