using System;

namespace HeaderFraming.Fuzz;

/// <summary>
/// Splits a fuzzer input into control bytes (which codec, which options, how to chunk) and the bytes under test, and derives
/// further choices from a small deterministic generator seeded by the control bytes. The same input always replays the same way.
/// </summary>
/// <remarks>
/// <code>
/// +- 0 -+- 1..3 -+--- 4 ---+--- 5 ---+- 6..7 -+----------------------+
/// |codec| params | options | options |  seed  |  the bytes under test |
/// +-----+--------+---------+---------+--------+----------------------+
/// </code>
/// Inputs shorter than the control block are padded with zeros, so every input is valid.
/// </remarks>
public readonly struct FuzzInput
{
    /// <summary>The number of control bytes at the start of every input.</summary>
    public const int ControlLength = 8;

    private readonly byte[] _control;

    public FuzzInput(byte[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _control = new byte[ControlLength];
        input.AsSpan(0, Math.Min(input.Length, ControlLength)).CopyTo(_control);
        Data = input.Length > ControlLength ? input.AsSpan(ControlLength).ToArray() : [];
    }

    /// <summary>Control byte <paramref name="index"/> (0 to 7).</summary>
    public byte this[int index] => _control[index];

    /// <summary>The bytes under test: everything after the control block.</summary>
    public byte[] Data { get; }

    /// <summary>A generator seeded by the control bytes.</summary>
    public Choices CreateChoices() => new(BitConverter.ToUInt64(_control) | 1);
}

/// <summary>xorshift64: deterministic, allocation-free choices derived from the input.</summary>
public struct Choices
{
    private ulong _state;

    public Choices(ulong seed) => _state = seed == 0 ? 0x9E3779B97F4A7C15 : seed;

    /// <summary>A value from 0 to <paramref name="maxExclusive"/> − 1.</summary>
    public int Next(int maxExclusive)
    {
        _state ^= _state << 13;
        _state ^= _state >> 7;
        _state ^= _state << 17;
        return (int)(_state % (ulong)maxExclusive);
    }
}
