using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A user's own codec (not <see cref="AsciiDecimalCodec"/>) whose length is ASCII decimal digits at an offset of a larger
/// header, declared as <see cref="LengthFieldLayout.AsciiDecimal(int, AsciiAlignment, int, int, long)"/> so that the drivers
/// decode and encode it inline. Its own <see cref="DecodeHeader"/> and <see cref="WriteHeader"/> are a reference written
/// with a regular expression and string formatting, so that a property comparing the inline path (contiguous frames) with
/// the codec's (split frames) catches any difference between the two.
/// </summary>
public sealed class UserAsciiLengthCodec(int fieldWidth, AsciiAlignment alignment, int fieldOffset, int headerLength, long adjustment) : ILengthFieldCodec
{
    private readonly Regex _field = new(
        alignment switch
        {
            AsciiAlignment.Left => "^[0-9]+ *$",
            AsciiAlignment.Right => "^ *[0-9]+$",
            _ => "^[0-9]+$",
        },
        RegexOptions.CultureInvariant);

    private int _decodeCalls;

    /// <summary>How many times a driver called <see cref="DecodeHeader"/> (never, for a header decoded inline).</summary>
    public int DecodeCalls => Volatile.Read(ref _decodeCalls);

    public LengthFieldLayout LengthField { get; } = LengthFieldLayout.AsciiDecimal(fieldWidth, alignment, fieldOffset, headerLength, adjustment);

    public int MaxHeaderLength => headerLength;

    public bool IsFixedWidth => true;

    public long MaxPayloadLength => LengthField.MaxPayloadLength;

    public int GetHeaderLength(long payloadLength) => headerLength;

    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        Interlocked.Increment(ref _decodeCalls);
        headerLength = 0;
        payloadLength = 0;
        if (source.Length < LengthField.HeaderLength)
        {
            return OperationStatus.NeedMoreData;
        }

        string field = Encoding.Latin1.GetString(source.Slice(fieldOffset, fieldWidth));
        if (!_field.IsMatch(field) || !ulong.TryParse(field.Trim(' '), out ulong value))
        {
            return OperationStatus.InvalidData;
        }

        decimal length = value + (decimal)adjustment;
        if (value > long.MaxValue || length < 0 || length > long.MaxValue)
        {
            return OperationStatus.InvalidData;
        }

        headerLength = LengthField.HeaderLength;
        payloadLength = (long)length;
        return OperationStatus.Done;
    }

    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
        => new("the user codec's ASCII length field gives no payload length", source[..Math.Min(source.Length, LengthField.HeaderLength)]);

    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        if (payloadLength < Math.Max(0, adjustment) || payloadLength > LengthField.MaxPayloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, $"The user codec cannot describe a payload of {payloadLength} bytes.");
        }

        string digits = ((ulong)(payloadLength - adjustment)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string field = alignment switch
        {
            AsciiAlignment.Left => digits.PadRight(fieldWidth),
            AsciiAlignment.Right => digits.PadLeft(fieldWidth),
            _ => digits.PadLeft(fieldWidth, '0'),
        };
        Encoding.Latin1.GetBytes(field, destination.Slice(fieldOffset, fieldWidth));
        return LengthField.HeaderLength;
    }

    public override string ToString() => $"user ASCII codec: {LengthField}";
}
