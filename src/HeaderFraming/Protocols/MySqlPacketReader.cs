using System;
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;

namespace HeaderFraming.Protocols;

/// <summary>
/// Reads whole MySQL/MariaDB messages from a <see cref="FrameReader"/> or <see cref="FramedConnection"/> of
/// <see cref="MySql.Codec"/>: it checks every packet's sequence id and joins continuation packets (a payload of exactly
/// 16,777,215 bytes continues in the next packet) into one message.
/// </summary>
/// <remarks>
/// <code>
/// packets:  | FF FF FF | 01 | 16,777,215 bytes | 03 00 00 | 02 | 3 bytes |   | 05 00 00 | 03 | 5 bytes |
/// messages: |          16,777,218 bytes (2 packets, ids 1-2)               |   |  5 bytes (id 3)          |
/// </code>
/// <para><b>Sequence ids.</b> Each packet must carry <see cref="ExpectedSequenceId"/>, which then advances by one (wrapping
/// from 255 to 0). A driver sets it at each command: a client that sent a <c>COM_QUERY</c> with id 0 sets it to 1 before
/// reading the response; during the handshake it follows the server's ids. A mismatch throws a
/// <see cref="FrameFormatException"/> ("sequence id 7, expected 5") and faults the reader.</para>
/// <para><b>Copies.</b> A message of one packet is handed out as the frame's payload, without a copy. A message of several
/// packets is copied, packet by packet as they arrive, into one buffer from <see cref="ArrayPool{T}.Shared"/>, returned at
/// the next read or at <see cref="Dispose"/>. It never grows beyond <see cref="MaxMessageLength"/>: a message that would is
/// refused with a <see cref="FrameTooLargeException"/> before its packet is copied. One packet is buffered by the frame
/// reader, so its <see cref="FrameReaderOptions.MaxFrameLength"/> must be at least 16,777,215
/// (<see cref="MySql.MaxPacketPayloadLength"/>) for continued messages to be read at all.</para>
/// <para>One read at a time. A fault (bad sequence id, message too long, stream ended inside a message, or any fault of the
/// frame reader) is latched: every later read throws it again.</para>
/// </remarks>
public sealed class MySqlPacketReader : IDisposable
{
    /// <summary>The default <see cref="MaxMessageLength"/>: 64 MiB.</summary>
    public const long DefaultMaxMessageLength = 64L * 1024 * 1024;

    private readonly Func<CancellationToken, ValueTask<FrameReadResult>> _read;
    private readonly long _maxMessageLength;
    private readonly int _continuationLength;

    private byte[]? _buffer;
    private int _length;
    private int _packetCount;
    private byte _firstSequenceId;
    private long _messageOffset;
    private bool _delivered;
    private Exception? _fault;
    private bool _disposed;

    /// <summary>Reads messages from a frame reader of <see cref="MySql.Codec"/>.</summary>
    /// <param name="reader">The frame reader (not disposed or completed by this reader).</param>
    /// <param name="maxMessageLength">The longest message accepted, its packets joined.</param>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The reader's codec is not <see cref="MySql.Codec"/>'s layout.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessageLength"/> is negative or above <see cref="int.MaxValue"/>.</exception>
    public MySqlPacketReader(FrameReader reader, long maxMessageLength = DefaultMaxMessageLength)
        : this(Checked(reader).ReadFrameAsync, maxMessageLength, MySql.MaxPacketPayloadLength)
    {
    }

    /// <summary>Reads messages from a connection of <see cref="MySql.Codec"/>.</summary>
    /// <param name="connection">The connection (not disposed by this reader).</param>
    /// <param name="maxMessageLength">The longest message accepted, its packets joined.</param>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The connection's codec is not <see cref="MySql.Codec"/>'s layout.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessageLength"/> is negative or above <see cref="int.MaxValue"/>.</exception>
    public MySqlPacketReader(FramedConnection connection, long maxMessageLength = DefaultMaxMessageLength)
        : this(Checked(connection).ReadFrameAsync, maxMessageLength, MySql.MaxPacketPayloadLength)
    {
    }

    /// <summary>For tests: a continuation length other than 0xFFFFFF, so continued messages can be small.</summary>
    internal MySqlPacketReader(Func<CancellationToken, ValueTask<FrameReadResult>> read, long maxMessageLength, int continuationLength)
    {
        if (maxMessageLength < 0 || maxMessageLength > int.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxMessageLength), maxMessageLength,
                "The longest message is 0 to 2,147,483,647 bytes (one buffer holds it).");
        }

        Debug.Assert(continuationLength > 0);
        _read = read;
        _maxMessageLength = maxMessageLength;
        _continuationLength = continuationLength;
    }

    /// <summary>The sequence id the next packet must carry. Set it at each command (see the remarks of the type).</summary>
    public byte ExpectedSequenceId { get; set; }

    /// <summary>The longest message accepted, its packets' payloads joined (headers not counted).</summary>
    public long MaxMessageLength => _maxMessageLength;

    /// <summary>Reads the next whole message.</summary>
    /// <param name="cancellationToken">Cancels the wait; a message whose first packets were read is kept for the next read.</param>
    /// <returns>The message (valid until the next read), or <see cref="MySqlMessage.IsCompleted"/> at the end of the stream,
    /// or <see cref="MySqlMessage.IsCanceled"/>.</returns>
    /// <exception cref="FrameFormatException">A packet's sequence id is not <see cref="ExpectedSequenceId"/>.</exception>
    /// <exception cref="FrameTooLargeException">The message is longer than <see cref="MaxMessageLength"/>.</exception>
    /// <exception cref="FrameTruncatedException">The stream ended inside a message.</exception>
    /// <exception cref="ObjectDisposedException">The reader was disposed.</exception>
    /// <exception cref="InvalidOperationException">A frame's header is not 4 bytes: the reader's codec is not <see cref="MySql.Codec"/>.</exception>
    public async ValueTask<MySqlMessage> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(MySqlPacketReader));
        }

        if (_fault is not null)
        {
            throw _fault;
        }

        if (_delivered)
        {
            // The last message's buffer is the caller's until this read: now it can go.
            ReleaseBuffer();
            _delivered = false;
        }

        try
        {
            while (true)
            {
                FrameReadResult result = await _read(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    return MySqlMessage.Canceled;
                }

                if (result.IsCompleted)
                {
                    if (_packetCount > 0)
                    {
                        var truncated = new FrameTruncatedException(string.Format(CultureInfo.InvariantCulture,
                            "the stream ended inside a message: {0} continued packet{1} ({2:N0} bytes of payload) {3} received, and no final packet shorter than {4:N0} bytes",
                            _packetCount, _packetCount == 1 ? string.Empty : "s", _length, _packetCount == 1 ? "was" : "were", _continuationLength), _length, -1, default);
                        truncated.SetStreamOffset(_messageOffset);
                        throw truncated;
                    }

                    return MySqlMessage.Completed;
                }

                if (TryAddPacket(result.Frame, out MySqlMessage message))
                {
                    return message;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _fault = ex;
            ReleaseBuffer();
            throw;
        }
    }

    /// <summary>Returns the pooled buffer of a multi-packet message; does not complete the frame reader or the connection.</summary>
    public void Dispose()
    {
        _disposed = true;
        ReleaseBuffer();
    }

    private static FrameReader Checked(FrameReader reader)
    {
        if (reader is null)
        {
            throw new ArgumentNullException(nameof(reader));
        }

        CheckCodec(reader.Codec, nameof(reader));
        return reader;
    }

    private static FramedConnection Checked(FramedConnection connection)
    {
        if (connection is null)
        {
            throw new ArgumentNullException(nameof(connection));
        }

        CheckCodec(connection.ReceiveCodec, nameof(connection));
        return connection;
    }

    /// <summary>A reader of another layout would read lengths and sequence ids from the wrong bytes: refuse it at once.</summary>
    private static void CheckCodec(IFrameCodec codec, string paramName)
    {
        if (codec is not ILengthFieldCodec { LengthField: { FieldWidth: 3, Endianness: Codecs.Endianness.LittleEndian, FieldOffset: 0, HeaderLength: 4, Adjustment: 0 } })
        {
            ThrowHelper.ThrowArgument(paramName, string.Format(CultureInfo.InvariantCulture,
                "The {0} frames with {1}; MySQL packets need a 3-byte little-endian length at offset 0 of a 4-byte header: use MySql.Codec.",
                paramName, codec));
        }
    }

    private bool TryAddPacket(in Frame frame, out MySqlMessage message)
    {
        message = default;
        if (frame.HeaderLength != 4)
        {
            ThrowHelper.ThrowInvalidOperation(string.Format(CultureInfo.InvariantCulture,
                "A frame has a {0}-byte header; a MySQL packet has 4 (3-byte length, sequence id): read with MySql.Codec.", frame.HeaderLength));
        }

        byte sequenceId = (byte)frame.Read(MySql.SequenceId);
        if (sequenceId != ExpectedSequenceId)
        {
            var mismatch = new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
                "sequence id {0}, expected {1} (packet {2} of a message)", sequenceId, ExpectedSequenceId, _packetCount + 1),
                frame.IsContiguous ? frame.HeaderSpan : frame.Header.ToArray());
            mismatch.SetStreamOffset(frame.StreamOffset);
            throw mismatch;
        }

        long payloadLength = frame.PayloadLength;
        long total = _length + payloadLength;
        if (total > _maxMessageLength)
        {
            var tooLarge = new FrameTooLargeException(string.Format(CultureInfo.InvariantCulture,
                "the message is at least {0:N0} bytes long ({1} packet{2}), more than the maximum of {3:N0} bytes (MySqlPacketReader.MaxMessageLength)",
                total, _packetCount + 1, _packetCount == 0 ? string.Empty : "s", _maxMessageLength),
                total, _maxMessageLength, frame.IsContiguous ? frame.HeaderSpan : frame.Header.ToArray());
            tooLarge.SetStreamOffset(frame.StreamOffset);
            throw tooLarge;
        }

        ExpectedSequenceId = unchecked((byte)(sequenceId + 1));
        bool continues = payloadLength == _continuationLength;
        if (_packetCount == 0 && !continues)
        {
            // One packet: the pipe's memory, no copy.
            message = new MySqlMessage(frame.Payload, 1, sequenceId, sequenceId);
            return true;
        }

        if (_packetCount == 0)
        {
            _firstSequenceId = sequenceId;
            _messageOffset = frame.StreamOffset;
        }

        Append(frame.Payload, (int)total);
        _packetCount++;
        if (continues)
        {
            return false;
        }

        message = new MySqlMessage(new ReadOnlySequence<byte>(_buffer!, 0, _length), _packetCount, _firstSequenceId, sequenceId);
        _packetCount = 0;
        _delivered = true;
        return true;
    }

    private void Append(in ReadOnlySequence<byte> payload, int total)
    {
        Debug.Assert(total <= _maxMessageLength);
        if (_buffer is null || _buffer.Length < total)
        {
            long wanted = Math.Max(total, _buffer is null ? 2L * _continuationLength : 2L * _buffer.Length);
            byte[] grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, _maxMessageLength));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = grown;
        }

        payload.CopyTo(_buffer.AsSpan(_length));
        _length = total;
    }

    private void ReleaseBuffer()
    {
        byte[]? buffer = _buffer;
        _buffer = null;
        _length = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
