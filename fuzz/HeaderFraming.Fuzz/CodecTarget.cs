using System;
using System.Buffers;
using System.Buffers.Binary;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;

namespace HeaderFraming.Fuzz;

/// <summary>
/// Fuzzes <see cref="IFrameCodec.DecodeHeader"/> and <see cref="IFrameCodec.WriteHeader"/> directly: the three outcomes of
/// decoding are consistent (a prefix of a header needs more bytes, bytes after the header are ignored, a split buffer decodes
/// like a whole one) and every header decodes back to what was encoded.
/// </summary>
public static class CodecTarget
{
    public static void Run(byte[] input)
    {
        var fuzz = new FuzzInput(input);
        IFrameCodec codec = FuzzCodecs.Select(fuzz);
        byte[] data = fuzz.Data;
        Choices choices = fuzz.CreateChoices();

        Outcome whole = Decode(codec, data);
        CheckOutcome(codec, data, whole);

        // Only the header's bytes decide: whatever follows the first MaxHeaderLength bytes changes nothing.
        if (data.Length > codec.MaxHeaderLength)
        {
            Same(whole, Decode(codec, data.AsSpan(0, codec.MaxHeaderLength)), "bytes after MaxHeaderLength changed the outcome");
        }

        // Every strict prefix of a decoded header needs more bytes (it must neither throw nor decode).
        if (whole.Kind == OutcomeKind.Header)
        {
            for (int k = 0; k < whole.HeaderLength; k++)
            {
                FuzzCheckException.Check(Decode(codec, data.AsSpan(0, k)).Kind == OutcomeKind.NeedMore,
                    $"a {k}-byte prefix of a {whole.HeaderLength}-byte header did not ask for more bytes");
            }

            Same(whole, Decode(codec, data.AsSpan(0, whole.HeaderLength)), "the header alone decoded differently");
        }

        // A multi-segment buffer decodes exactly like the same bytes in one span.
        ReadOnlySequence<byte> split = Split(data, ref choices);
        Same(whole, DecodeSequence(codec, split), "a split buffer decoded differently from a contiguous one");

        CheckEncode(codec, data, whole);
    }

    private static void CheckOutcome(IFrameCodec codec, byte[] data, in Outcome outcome)
    {
        switch (outcome.Kind)
        {
            case OutcomeKind.Header:
                FuzzCheckException.Check(outcome.HeaderLength >= 1 && outcome.HeaderLength <= codec.MaxHeaderLength && outcome.HeaderLength <= data.Length,
                    $"header length {outcome.HeaderLength} is outside 1..{Math.Min(codec.MaxHeaderLength, data.Length)}");
                FuzzCheckException.Check(!codec.IsFixedWidth || outcome.HeaderLength == codec.MaxHeaderLength, "a fixed-width codec decoded a header of another width");
                FuzzCheckException.Check(outcome.PayloadLength >= 0 && outcome.PayloadLength <= codec.MaxPayloadLength,
                    $"payload length {outcome.PayloadLength} is outside 0..{codec.MaxPayloadLength}");
                FuzzCheckException.Check(codec.GetHeaderLength(outcome.PayloadLength) == outcome.HeaderLength,
                    "GetHeaderLength disagrees with the decoded header (a non-canonical header was accepted)");
                break;
            case OutcomeKind.NeedMore:
                FuzzCheckException.Check(data.Length < codec.MaxHeaderLength, $"the codec asked for more bytes with {data.Length} ≥ MaxHeaderLength bytes");
                break;
            default:
                FrameFormatException error = outcome.Error!;
                FuzzCheckException.Check(error.Kind == FrameErrorKind.Malformed && error.StreamOffset == -1, "a codec error has the wrong kind or an offset");
                FuzzCheckException.Check(error.Header.Length >= 1 && error.Header.Length <= codec.MaxHeaderLength
                    && error.Header.Span.SequenceEqual(data.AsSpan(0, error.Header.Length)), "the error's header bytes are not the input's first bytes");
                FuzzCheckException.Check(!string.IsNullOrEmpty(error.Message) && !string.IsNullOrEmpty(error.Problem), "the error has no message");
                break;
        }
    }

    private static void CheckEncode(IFrameCodec codec, byte[] data, in Outcome whole)
    {
        // A decoded header, encoded again over a copy of itself, gives the same lengths; for binary and varint headers
        // (one encoding per length, other header bytes preserved) the very same bytes.
        if (whole.Kind == OutcomeKind.Header)
        {
            byte[] copy = data.AsSpan(0, whole.HeaderLength).ToArray();
            FuzzCheckException.Check(codec.WriteHeader(whole.PayloadLength, copy) == whole.HeaderLength, "WriteHeader wrote another header length");
            Same(whole, Decode(codec, copy), "a re-encoded header decoded differently");
            FuzzCheckException.Check(codec is AsciiDecimalCodec || copy.AsSpan().SequenceEqual(data.AsSpan(0, whole.HeaderLength)),
                "a re-encoded binary or varint header differs from the original bytes");
        }

        // Any length from the input: inside the codec's range it round-trips; outside it is refused with
        // ArgumentOutOfRangeException (documented), never truncated.
        Span<byte> eight = stackalloc byte[8];
        data.AsSpan(0, Math.Min(8, data.Length)).CopyTo(eight);
        long length = BinaryPrimitives.ReadInt64LittleEndian(eight);
        long min = MinPayloadLength(codec);
        bool valid = length >= min && length <= codec.MaxPayloadLength;
        byte[] header = new byte[codec.MaxHeaderLength];
        int written;
        try
        {
            written = codec.WriteHeader(length, header);
        }
        catch (ArgumentOutOfRangeException)
        {
            FuzzCheckException.Check(!valid, $"WriteHeader refused the valid length {length}");
            return;
        }

        FuzzCheckException.Check(valid, $"WriteHeader accepted the invalid length {length}");
        Outcome decoded = Decode(codec, header.AsSpan(0, written));
        FuzzCheckException.Check(decoded.Kind == OutcomeKind.Header && decoded.HeaderLength == written && decoded.PayloadLength == length,
            $"length {length} did not survive WriteHeader then DecodeHeader");
    }

    private static long MinPayloadLength(IFrameCodec codec)
        => codec is BinaryLengthCodec binary
            ? Math.Max(0, (long)binary.LengthAdjustment - (binary.LengthIncludesHeader ? binary.HeaderLength : 0))
            : 0;

    private static ReadOnlySequence<byte> Split(byte[] data, ref Choices choices)
    {
        var pieces = new ReadOnlyMemory<byte>[1 + choices.Next(4)];
        int start = 0;
        for (int i = 0; i < pieces.Length; i++)
        {
            int end = i == pieces.Length - 1 ? data.Length : start + choices.Next(data.Length - start + 1);
            pieces[i] = new ReadOnlyMemory<byte>(data, start, end - start);
            start = end;
        }

        return SegmentedSequence.Create(pieces);
    }

    private static Outcome Decode(IFrameCodec codec, ReadOnlySpan<byte> source)
    {
        // A codec reports bad input as a value; an exception from DecodeHeader is a bug the fuzzer must surface.
        return codec.DecodeHeader(source, out int headerLength, out long payloadLength) switch
        {
            OperationStatus.Done => new Outcome(OutcomeKind.Header, headerLength, payloadLength, null),
            OperationStatus.NeedMoreData => new Outcome(OutcomeKind.NeedMore, 0, 0, null),
            _ => new Outcome(OutcomeKind.Malformed, 0, 0, codec.CreateHeaderException(source)),
        };
    }

    private static Outcome DecodeSequence(IFrameCodec codec, in ReadOnlySequence<byte> source)
    {
        // A codec reports bad input as a value; an exception from DecodeHeader is a bug the fuzzer must surface.
        return codec.DecodeHeader(source, out int headerLength, out long payloadLength) switch
        {
            OperationStatus.Done => new Outcome(OutcomeKind.Header, headerLength, payloadLength, null),
            OperationStatus.NeedMoreData => new Outcome(OutcomeKind.NeedMore, 0, 0, null),
            _ => new Outcome(OutcomeKind.Malformed, 0, 0, codec.CreateHeaderException(source)),
        };
    }

    private static void Same(in Outcome expected, in Outcome actual, string what)
        => FuzzCheckException.Check(expected.Kind == actual.Kind && expected.HeaderLength == actual.HeaderLength && expected.PayloadLength == actual.PayloadLength,
            $"{what}: expected {expected}, got {actual}");

    private enum OutcomeKind
    {
        NeedMore,
        Header,
        Malformed,
    }

    private readonly record struct Outcome(OutcomeKind Kind, int HeaderLength, long PayloadLength, FrameFormatException? Error)
    {
        public override string ToString() => Kind switch
        {
            OutcomeKind.Header => $"header of {HeaderLength} bytes, payload {PayloadLength}",
            OutcomeKind.NeedMore => "need more bytes",
            _ => $"malformed ({Error!.Problem})",
        };
    }
}
