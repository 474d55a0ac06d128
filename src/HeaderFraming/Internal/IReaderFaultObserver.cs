using System;

namespace HeaderFraming.Internal;

/// <summary>Told once when a <see cref="FrameReader"/> latches its fault (a malformed, too large or truncated frame, a
/// timeout): the connection records its shutdown reason there, so its read paths need no exception handling.</summary>
internal interface IReaderFaultObserver
{
    void OnReaderFault(Exception exception);
}
