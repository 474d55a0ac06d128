using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Codecs;

namespace HeaderFraming.Fuzz;

/// <summary>
/// Fuzzes <see cref="FrameReader"/> over a real <see cref="Pipe"/>: the bytes under test arrive in chunks, on segments of a
/// size, memory kind and frame limit chosen by the input, with reads cancelled (token and <see cref="FrameReader.CancelPendingRead"/>)
/// at points chosen by the input. Everything runs inline on one thread, so an input replays identically.
/// </summary>
/// <remarks>
/// The oracle is a reference decoder that walks the same bytes as one contiguous span with the codec alone: the reader must
/// return exactly its frames (header, payload, offsets) and then end the same way (end of stream, or the same typed error at
/// the same offset with the same details), never hang, never throw anything but a <see cref="FrameException"/> (or an
/// <see cref="OperationCanceledException"/> for a token the harness cancelled).
/// </remarks>
public static class ReaderTarget
{
    private const int MaxCancellations = 32;
    private static readonly int[] s_blockSizes = [1, 2, 3, 7, 16, 64, 512, 4096];
    private static readonly long[] s_maxFrameLengths = [0, 1, 15, 255, 4096, 65535, 1 << 20, FrameReaderOptions.DefaultMaxFrameLength];
    private static readonly int[] s_chunkSizes = [1, 2, 5, 16, 100, 1000, 1 << 16, int.MaxValue];

    public static void Run(byte[] input)
    {
        var fuzz = new FuzzInput(input);
        IFrameCodec codec = FuzzCodecs.Select(fuzz);
        byte[] data = fuzz.Data;
        int blockSize = s_blockSizes[fuzz[4] & 7];
        bool native = (fuzz[4] & 8) != 0;
        long maxFrameLength = s_maxFrameLengths[(fuzz[4] >> 4) & 7];
        bool drain = (fuzz[4] & 128) != 0;
        int chunkSize = s_chunkSizes[fuzz[5] & 7];
        int cancelRate = (fuzz[5] >> 3) & 7; // out of 16
        Choices choices = fuzz.CreateChoices();

        Expected expected = Reference(codec, data, maxFrameLength);
        var pipe = new Pipe(new PipeOptions(
            new FixedBlockPool(blockSize, native), PipeScheduler.Inline, PipeScheduler.Inline,
            pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: blockSize, useSynchronizationContext: false));
        var reader = new FrameReader(pipe.Reader, codec, new FrameReaderOptions { MaxFrameLength = maxFrameLength });

        int fed = 0;
        bool writerDone = false;
        int cancellations = 0;
        var delivered = new List<(byte[] Header, byte[] Payload)>();
        while (true)
        {
            using var cts = cancellations < MaxCancellations && choices.Next(16) < cancelRate ? new CancellationTokenSource() : null;
            bool tokenCanceled = false;
            if (cancellations < MaxCancellations && choices.Next(16) < cancelRate)
            {
                reader.CancelPendingRead();
                cancellations++;
            }

            FrameReadResult result;
            try
            {
                ValueTask<FrameReadResult> read = reader.ReadFrameAsync(cts?.Token ?? default);
                while (!read.IsCompleted)
                {
                    if (cts != null && !tokenCanceled && choices.Next(4) == 0)
                    {
                        cancellations++;
                        tokenCanceled = true;
                        cts.Cancel();
                    }
                    else if (cancellations < MaxCancellations && choices.Next(16) < cancelRate)
                    {
                        cancellations++;
                        reader.CancelPendingRead();
                    }
                    else if (fed < data.Length)
                    {
                        int size = Math.Min(data.Length - fed, 1 + choices.Next(Math.Min(chunkSize, data.Length - fed)));
                        Feed(pipe.Writer, data.AsSpan(fed, size));
                        fed += size;
                    }
                    else
                    {
                        FuzzCheckException.Check(!writerDone, $"the reader hangs: all {data.Length} bytes were written and the pipe completed");
                        writerDone = true;
                        pipe.Writer.Complete();
                    }
                }

                result = read.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (tokenCanceled)
            {
                continue;
            }
            catch (FrameException ex)
            {
                CheckError(reader, expected, delivered.Count, ex, data, codec);
                return;
            }

            if (result.IsCanceled)
            {
                continue;
            }

            if (result.IsCompleted)
            {
                FuzzCheckException.Check(expected.Error == null, $"the stream ended cleanly after {delivered.Count} frames; expected {expected.Error} after {expected.Frames.Count}");
                FuzzCheckException.Check(delivered.Count == expected.Frames.Count, $"{delivered.Count} frames delivered, {expected.Frames.Count} expected");
                FuzzCheckException.Check(reader.ReadFrameAsync().GetAwaiter().GetResult().IsCompleted, "a completed reader did not stay completed");
                CheckReencode(codec, delivered, data, expected);
                return;
            }

            CheckFrame(reader, expected, delivered, result.Frame, data);
            try
            {
                while (drain && reader.TryReadFrame(out Frame frame))
                {
                    CheckFrame(reader, expected, delivered, frame, data);
                }
            }
            catch (FrameException ex)
            {
                CheckError(reader, expected, delivered.Count, ex, data, codec);
                return;
            }
        }
    }

    private static void Feed(PipeWriter writer, ReadOnlySpan<byte> chunk)
    {
        while (!chunk.IsEmpty)
        {
            Span<byte> span = writer.GetSpan(1);
            int n = Math.Min(span.Length, chunk.Length);
            chunk.Slice(0, n).CopyTo(span);
            writer.Advance(n);
            chunk = chunk.Slice(n);
        }

        ValueTask<FlushResult> flush = writer.FlushAsync();
        FuzzCheckException.Check(flush.IsCompleted, "a flush without back-pressure did not complete");
        flush.GetAwaiter().GetResult();
    }

    private static void CheckFrame(FrameReader reader, Expected expected, List<(byte[], byte[])> delivered, in Frame frame, byte[] data)
    {
        int index = delivered.Count;
        FuzzCheckException.Check(index < expected.Frames.Count, $"frame {index} delivered; only {expected.Frames.Count} expected");
        (int start, int headerLength, int payloadLength) = expected.Frames[index];
        byte[] header = frame.Header.ToArray();
        byte[] payload = frame.Payload.ToArray();
        FuzzCheckException.Check(frame.StreamOffset == start, $"frame {index} at offset {frame.StreamOffset}, expected {start}");
        FuzzCheckException.Check(header.AsSpan().SequenceEqual(data.AsSpan(start, headerLength)), $"frame {index}'s header bytes differ");
        FuzzCheckException.Check(payload.AsSpan().SequenceEqual(data.AsSpan(start + headerLength, payloadLength)), $"frame {index}'s payload bytes differ");
        FuzzCheckException.Check(reader.Position == start + headerLength + payloadLength, $"Position is {reader.Position} after frame {index}");
        delivered.Add((header, payload));
    }

    private static void CheckError(FrameReader reader, Expected expected, int deliveredCount, FrameException ex, byte[] data, IFrameCodec codec)
    {
        ExpectedError? error = expected.Error;
        FuzzCheckException.Check(error != null, $"{ex.GetType().Name} after {deliveredCount} frames, but the bytes hold {expected.Frames.Count} frames and end cleanly: {ex.Message}");
        FuzzCheckException.Check(deliveredCount == expected.Frames.Count, $"{ex.Kind} after {deliveredCount} frames; {expected.Frames.Count} came first");
        FuzzCheckException.Check(ex.Kind == error!.Kind && ex.StreamOffset == error.Offset, $"{ex.Kind} at offset {ex.StreamOffset}; expected {error.Kind} at {error.Offset}");
        FuzzCheckException.Check(!string.IsNullOrEmpty(ex.Message), "the error has no message");
        ReadOnlySpan<byte> rest = data.AsSpan(error.Offset);
        FuzzCheckException.Check(ex.Header.Length <= codec.MaxHeaderLength && ex.Header.Span.SequenceEqual(rest.Slice(0, ex.Header.Length)),
            "the error's header bytes are not the frame's first bytes");
        switch (ex)
        {
            case FrameTooLargeException tooLarge:
                FuzzCheckException.Check(tooLarge.DeclaredLength == error.DeclaredLength && tooLarge.Header.Length == error.HeaderLength,
                    $"too large: declared {tooLarge.DeclaredLength}, header {tooLarge.Header.Length} bytes; expected {error.DeclaredLength}, {error.HeaderLength}");
                break;
            case FrameTruncatedException truncated:
                FuzzCheckException.Check(truncated.ReceivedBytes == rest.Length && truncated.ExpectedBytes == error.ExpectedBytes,
                    $"truncated: received {truncated.ReceivedBytes} of {truncated.ExpectedBytes}; expected {rest.Length} of {error.ExpectedBytes}");
                break;
        }

        // A faulted reader rethrows the same error.
        try
        {
            reader.ReadFrameAsync().GetAwaiter().GetResult();
            throw new FuzzCheckException("a faulted reader returned a result");
        }
        catch (FrameException again)
        {
            FuzzCheckException.Check(ReferenceEquals(again, ex), "a faulted reader threw a different error");
        }
    }

    private static void CheckReencode(IFrameCodec codec, List<(byte[] Header, byte[] Payload)> delivered, byte[] data, Expected expected)
    {
        // Binary and varint headers have one encoding per length: writing the frames back gives the input byte for byte.
        if (codec is AsciiDecimalCodec)
        {
            return;
        }

        var stream = new MemoryStream();
        PipeWriter pipeWriter = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = new FrameWriter(pipeWriter, codec);
        foreach ((byte[] header, byte[] payload) in delivered)
        {
            writer.Write(header, payload);
        }

        writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        writer.Complete();
        FuzzCheckException.Check(stream.ToArray().AsSpan().SequenceEqual(data.AsSpan(0, expected.End)), "frames written back differ from the bytes they were read from");
    }

    /// <summary>The reference: the same bytes, contiguous, decoded by the codec alone.</summary>
    private static Expected Reference(IFrameCodec codec, byte[] data, long maxFrameLength)
    {
        var frames = new List<(int, int, int)>();
        int position = 0;
        while (position < data.Length)
        {
            ReadOnlySpan<byte> rest = data.AsSpan(position);
            int headerLength;
            long payloadLength;
            OperationStatus status = codec.DecodeHeader(rest, out headerLength, out payloadLength);
            if (status == OperationStatus.NeedMoreData)
            {
                return new Expected(frames, position, new ExpectedError(FrameErrorKind.Truncated, position, -1, 0, -1));
            }

            if (status != OperationStatus.Done)
            {
                return new Expected(frames, position, new ExpectedError(FrameErrorKind.Malformed, position, 0, 0, 0));
            }

            if (payloadLength > maxFrameLength)
            {
                return new Expected(frames, position, new ExpectedError(FrameErrorKind.TooLarge, position, headerLength, payloadLength, 0));
            }

            if (rest.Length - headerLength < payloadLength)
            {
                return new Expected(frames, position, new ExpectedError(FrameErrorKind.Truncated, position, headerLength, payloadLength, headerLength + payloadLength));
            }

            frames.Add((position, headerLength, (int)payloadLength));
            position += headerLength + (int)payloadLength;
        }

        return new Expected(frames, position, null);
    }

    private sealed record Expected(List<(int Start, int HeaderLength, int PayloadLength)> Frames, int End, ExpectedError? Error);

    private sealed record ExpectedError(FrameErrorKind Kind, int Offset, int HeaderLength, long DeclaredLength, long ExpectedBytes);
}
