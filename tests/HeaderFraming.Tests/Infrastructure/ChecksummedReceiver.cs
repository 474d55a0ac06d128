using System.Buffers;
using System.Buffers.Binary;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// Checks, frame by frame and without allocating, a stream of payloads written by <see cref="Checksummed.Fill"/> from up to
/// 256 concurrent writers: each writer's frames must arrive in its own order with no gap and no repeat, and every full-form
/// payload must match its checksum. Empty frames carry no identity: they are counted, and <see cref="AssertReceivedEverything"/>
/// compares the count with what was sent.
/// </summary>
public sealed class ChecksummedReceiver
{
    private readonly int[] _next;
    private readonly byte[] _scratch;

    public ChecksummedReceiver(int writers, int maxPayloadLength)
    {
        _next = new int[writers];
        _scratch = new byte[maxPayloadLength];
    }

    public long Frames { get; private set; }

    public long EmptyFrames { get; private set; }

    public long PayloadBytes { get; private set; }

    /// <summary>Non-empty frames of <paramref name="writer"/> that arrived (the sequence number its next frame must carry).</summary>
    public int ReceivedFrom(int writer) => _next[writer];

    /// <summary>Checks the next payload; fails the test with a precise message on a lost, repeated, reordered or corrupt frame.</summary>
    /// <returns>The frame's writer and sequence number, or (-1, -1) for an empty frame (which carries neither).</returns>
    public (int Writer, int Sequence) Accept(in ReadOnlySequence<byte> received)
    {
        Frames++;
        PayloadBytes += received.Length;
        if (received.IsEmpty)
        {
            EmptyFrames++;
            return (-1, -1);
        }

        if (received.Length > _scratch.Length)
        {
            Assert.Fail($"frame {Frames}: a {received.Length}-byte payload is longer than any that was sent ({_scratch.Length})");
        }

        ReadOnlySpan<byte> payload;
        if (received.IsSingleSegment)
        {
            payload = received.FirstSpan;
        }
        else
        {
            received.CopyTo(_scratch);
            payload = _scratch.AsSpan(0, (int)received.Length);
        }

        if (payload.Length >= Checksummed.Overhead)
        {
            int writer = BinaryPrimitives.ReadInt32LittleEndian(payload);
            int sequence = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
            if (checksum != Checksummed.Checksum(payload))
            {
                Assert.Fail($"frame {Frames} ({payload.Length} bytes, writer {writer}, sequence {sequence}): checksum mismatch, the frame is corrupt or interleaved");
            }

            Advance(writer, sequence, payload.Length);
            return (writer, sequence);
        }

        int shortWriter = payload[0];
        if (shortWriter >= _next.Length)
        {
            Assert.Fail($"frame {Frames}: a {payload.Length}-byte short-form payload names writer {shortWriter}; there are {_next.Length}");
        }

        int expected = _next[shortWriter];
        for (int i = 1; i < payload.Length; i++)
        {
            if (payload[i] != Checksummed.ShortFormByte(shortWriter, expected, i))
            {
                Assert.Fail($"frame {Frames}: a {payload.Length}-byte short-form payload of writer {shortWriter} differs at byte {i} from sequence {expected}: lost, repeated, reordered or corrupt");
            }
        }

        _next[shortWriter] = expected + 1;
        return (shortWriter, expected);
    }

    /// <summary>Asserts that every writer's last frame arrived and that as many empty frames arrived as were sent.</summary>
    /// <param name="sentPerWriter">How many non-empty frames each writer sent.</param>
    /// <param name="sentEmpty">How many empty frames all writers sent together.</param>
    public void AssertReceivedEverything(IReadOnlyList<int> sentPerWriter, long sentEmpty)
    {
        for (int w = 0; w < _next.Length; w++)
        {
            if (_next[w] != sentPerWriter[w])
            {
                Assert.Fail($"writer {w} sent {sentPerWriter[w]} non-empty frames; {_next[w]} arrived");
            }
        }

        if (EmptyFrames != sentEmpty)
        {
            Assert.Fail($"{sentEmpty} empty frames were sent; {EmptyFrames} arrived");
        }
    }

    /// <summary>Asserts that no writer's frames went beyond what it sent, and no more empty frames arrived than were sent: with
    /// the order checked frame by frame, what arrived is then a prefix of each writer's frames (a connection that failed
    /// part-way).</summary>
    /// <param name="sentPerWriter">How many non-empty frames each writer sent (or tried to send).</param>
    /// <param name="sentEmpty">How many empty frames all writers sent (or tried to send) together.</param>
    public void AssertReceivedNoMoreThan(IReadOnlyList<int> sentPerWriter, long sentEmpty)
    {
        for (int w = 0; w < _next.Length; w++)
        {
            if (_next[w] > sentPerWriter[w])
            {
                Assert.Fail($"writer {w} sent {sentPerWriter[w]} non-empty frames; {_next[w]} arrived");
            }
        }

        if (EmptyFrames > sentEmpty)
        {
            Assert.Fail($"{sentEmpty} empty frames were sent; {EmptyFrames} arrived");
        }
    }

    private void Advance(int writer, int sequence, int length)
    {
        if ((uint)writer >= (uint)_next.Length)
        {
            Assert.Fail($"frame {Frames} ({length} bytes): writer {writer} does not exist; there are {_next.Length}");
        }

        if (sequence != _next[writer])
        {
            Assert.Fail($"frame {Frames} ({length} bytes): writer {writer} sent sequence {sequence}, expected {_next[writer]}: "
                + (sequence < _next[writer] ? "a repeated or reordered frame" : "a lost or reordered frame"));
        }

        _next[writer] = sequence + 1;
    }
}
