using System;

namespace HeaderFraming.Fuzz;

/// <summary>The harness found the library breaking its contract. Never caught: AFL++ records it as a crash.</summary>
public sealed class FuzzCheckException : Exception
{
    public FuzzCheckException(string message)
        : base(message)
    {
    }

    public FuzzCheckException()
    {
    }

    public FuzzCheckException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzCheckException(message);
        }
    }
}
